"""A real OpenAI-compatible HTTP server for the tests (stdlib only, 127.0.0.1, port 0).

Answers are a deterministic function of (prompt, seed): the server finds the flower the
prompt's memory names and usually praises it, but for some seeds names a different
flower, so runs have real dynamics. Faults can be injected per request.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FLOWERS = ("rose", "orchid", "tulip", "lily", "sunflower", "peony", "dahlia", "poppy",
           "daisy", "lavender", "magnolia", "iris")
ADJECTIVES = ("velvety", "fragrant", "delicate", "radiant", "graceful", "vivid")

# injectable faults, consumed one per request in arrival order
FAULTS = ("500", "503", "429", "408", "400", "401", "timeout", "nonjson", "missing",
          "nullcontent", "drop")


def answer(prompt: str, seed) -> str:
    """The deterministic answer to ``prompt`` with ``seed``."""
    low = prompt.lower()
    # the flower named in the prompt (first occurrence); default rose
    hits = [(low.find(f), f) for f in FLOWERS if f in low]
    flower = min(hits)[1] if hits else "rose"
    s = 0 if seed is None else int(seed)
    if s % 4 == 0:  # one answer in four switches flower
        flower = FLOWERS[(s // 4) % len(FLOWERS)]
    adj = ADJECTIVES[(s // 7) % len(ADJECTIVES)]
    return f" The prettiest flower is the {flower}, with {adj} petals and a {adj} scent."


class FakeServer:
    """Run the server in a daemon thread; use as a context manager.

    Attributes
    ----------
    base_url : str
        ``http://127.0.0.1:PORT/v1``
    requests : list of dict
        JSON bodies received (in arrival order), with the ``Authorization`` header under
        ``"_auth"`` and the path under ``"_path"``.
    faults : list of str
        Faults to inject, consumed one per request.
    die_after : int or None
        Only the first ``die_after`` requests are served; the next one makes the server
        shut down for good (its connection is closed without a response).
    delay : float
        Seconds every answer waits (for concurrency tests).
    """

    def __init__(self, *, faults=(), die_after=None, delay=0.0, timeout_sleep=1.0,
                 always=None):
        self.faults = list(faults)
        self.always = always  # a fault injected on every request
        self.die_after = die_after
        self.delay = delay
        self.timeout_sleep = timeout_sleep
        self.requests = []
        self.answered = 0
        self.inflight = 0
        self.max_inflight = 0
        self.lock = threading.Lock()
        self.dead = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                owner._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.handle_error = lambda *a: None  # broken pipes after client timeouts
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    # -- lifecycle -----------------------------------------------------------------

    def stop(self):
        if not self.dead:
            self.dead = True
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- request handling ------------------------------------------------------------

    def _send(self, h, status, payload: bytes, ctype="application/json", headers=()):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(payload)))
        for k, v in headers:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)

    def _handle(self, h):
        length = int(h.headers.get("Content-Length", 0))
        raw = h.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(h, 400, b'{"error": "bad json"}')
            return
        body["_auth"] = h.headers.get("Authorization")
        body["_path"] = h.path
        with self.lock:
            self.requests.append(body)
            fault = self.faults.pop(0) if self.faults else self.always
            # count arrivals, not answers: with concurrent requests that makes exactly
            # die_after requests succeed
            dying = self.die_after is not None and len(self.requests) > self.die_after
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if dying:
                h.close_connection = True
                threading.Thread(target=self.stop, daemon=True).start()
                return
            if fault in ("500", "503", "408", "400", "401"):
                self._send(h, int(fault), b'{"error": {"message": "injected\\nfailure"}}')
                return
            if fault == "429":
                self._send(h, 429, b'{"error": "slow down"}', headers=[("Retry-After", "0")])
                return
            if fault == "timeout":
                time.sleep(self.timeout_sleep)
                h.close_connection = True
                return
            if fault == "drop":
                h.close_connection = True
                return
            if fault == "nonjson":
                self._send(h, 200, b"<html>gateway hiccup</html>", ctype="text/html")
                return
            if fault == "missing":
                self._send(h, 200, b'{"object": "chat.completion", "choices": []}')
                return
            if self.delay:
                time.sleep(self.delay)
            chat = h.path.endswith("/chat/completions")
            prompt = body["messages"][-1]["content"] if chat else body["prompt"]
            text = answer(prompt, body.get("seed"))
            if fault == "nullcontent":
                text = None
            choice = ({"index": 0, "message": {"role": "assistant", "content": text},
                       "finish_reason": "stop"} if chat
                      else {"index": 0, "text": text, "finish_reason": "stop"})
            self._send(h, 200, json.dumps({"object": "x", "model": body.get("model"),
                                           "choices": [choice]}).encode())
            with self.lock:
                self.answered += 1
        finally:
            with self.lock:
                self.inflight -= 1


def closed_port() -> int:
    """A localhost port nobody listens on (bound then released)."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
