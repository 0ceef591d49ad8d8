"""Backend for any OpenAI-compatible HTTP server (llama.cpp, vLLM, Ollama, OpenAI, ...).

Each prompt is one request (``/chat/completions`` or ``/completions``); a thread pool
sends up to ``max_concurrency`` of them at once. Transient failures -- connection
errors, timeouts, 5xx, 408, 429 and bodies that are not the expected JSON -- are
retried with exponential backoff; other 4xx are the caller's fault and fail at once.
"""
from __future__ import annotations

import json
import numbers
import os
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numpy as np

from gmmproxy._extras import MissingExtraError

from .backend import BackendError, check_generate_args, one_line

__all__ = ["OpenAIBackend", "ENDPOINTS"]

#: endpoint name -> path appended to the base URL
ENDPOINTS = {"chat": "/chat/completions", "completions": "/completions"}
_RETRY_STATUS = {408, 429}


def _import_httpx():
    try:
        import httpx
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            "the OpenAI-compatible backend needs httpx; install it with "
            "pip install 'gmmproxy[llm]'"
        ) from None
    return httpx


class _Retryable(Exception):
    """A failure worth another attempt; ``retry_after`` is the server's hint (s) or None."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class _Fatal(Exception):
    """A failure another attempt cannot fix (4xx other than 408/429)."""


def _check_positive(name, value, *, integer=False, allow_zero=False):
    kind = "an int" if integer else "a float"
    bad_type = isinstance(value, (bool, np.bool_)) or not isinstance(
        value, numbers.Integral if integer else numbers.Real
    )
    if bad_type:
        raise TypeError(f"{name} must be {kind}; got {value!r}")
    ok = value >= 0 if allow_zero else value > 0
    if not np.isfinite(value) or not ok:
        raise ValueError(f"{name} must be {kind} {'>= 0' if allow_zero else '> 0'}; got {value}")


class OpenAIBackend:
    """Generate with an OpenAI-compatible server.

    Parameters
    ----------
    base_url : str
        Server root including the API version, e.g. ``http://127.0.0.1:8080/v1``.
    model : str
        Model name sent in every request (servers serving one model often ignore it).
    endpoint : {"chat", "completions"}
        ``chat`` sends the prompt as one user message to ``/chat/completions``;
        ``completions`` sends it raw to ``/completions``.
    api_key_env : str
        Name of the environment variable holding the API key (sent as a Bearer token).
        If the variable is unset no key is sent, which is what local servers expect.
    timeout : float
        Seconds allowed for connecting, and for each read/write of a request.
    retries : int
        Extra attempts after a transient failure (0 = try once).
    backoff : float
        Delay before the first retry, in seconds; doubled after each further failure.
    max_backoff : float
        Upper bound of one delay (also caps a server's ``Retry-After``).
    jitter : None or int
        None: no jitter. An int seeds the source of a random factor in [0.5, 1) applied
        to each delay, which spreads retries of concurrent requests apart.
    max_concurrency : int
        Number of requests in flight at once.
    system_prompt : str, optional
        A system message sent before the prompt (chat endpoint only).
    extra_body : dict, optional
        Extra JSON fields merged into every request (e.g. ``{"top_p": 0.9}``).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        endpoint: str = "chat",
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        jitter=0,
        max_concurrency: int = 8,
        system_prompt: str | None = None,
        extra_body: dict | None = None,
    ):
        httpx = _import_httpx()
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL such as "
                             f"http://127.0.0.1:8080/v1; got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty str; got {model!r}")
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {sorted(ENDPOINTS)}; got {endpoint!r}")
        if not isinstance(api_key_env, str) or not api_key_env:
            raise ValueError(f"api_key_env must be a non-empty str; got {api_key_env!r}")
        _check_positive("timeout", timeout)
        _check_positive("retries", retries, integer=True, allow_zero=True)
        _check_positive("backoff", backoff, allow_zero=True)
        _check_positive("max_backoff", max_backoff, allow_zero=True)
        _check_positive("max_concurrency", max_concurrency, integer=True)
        if jitter is not None and (
            isinstance(jitter, (bool, np.bool_)) or not isinstance(jitter, numbers.Integral)
            or jitter < 0
        ):
            raise ValueError(f"jitter must be None or a non-negative int seed; got {jitter!r}")
        if system_prompt is not None and not isinstance(system_prompt, str):
            raise TypeError(f"system_prompt must be a str or None; got {type(system_prompt).__name__}")
        if extra_body is not None and not isinstance(extra_body, dict):
            raise TypeError(f"extra_body must be a dict or None; got {type(extra_body).__name__}")

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.endpoint = endpoint
        self.url = self.base_url + ENDPOINTS[endpoint]
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_concurrency = int(max_concurrency)
        self.system_prompt = system_prompt
        self.extra_body = dict(extra_body or {})
        self._httpx = httpx
        # the jitter source is shared by the worker threads, hence the lock; it only
        # changes *when* a retry happens, never what is generated
        self._jitter = None if jitter is None else np.random.default_rng(int(jitter))
        self._jitter_lock = threading.Lock()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env)
        self._has_key = bool(key)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=self.max_concurrency,
                                max_keepalive_connections=self.max_concurrency),
        )

    # -- identity ------------------------------------------------------------------

    def describe(self) -> dict:
        """Backend identity for the run record (no secrets: the key is never stored)."""
        d = {"kind": self.name, "base_url": self.base_url, "model": self.model,
             "endpoint": self.endpoint}
        if self.system_prompt is not None:
            d["system_prompt"] = self.system_prompt
        if self.extra_body:
            d["extra_body"] = self.extra_body
        return d

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- one request -----------------------------------------------------------------

    def _body(self, prompt, seed, temperature, max_tokens) -> dict:
        body = {"model": self.model, "temperature": float(temperature),
                "max_tokens": int(max_tokens)}
        if self.endpoint == "chat":
            messages = []
            if self.system_prompt is not None:
                messages.append({"role": "system", "content": self.system_prompt})
            messages.append({"role": "user", "content": prompt})
            body["messages"] = messages
        else:
            body["prompt"] = prompt
        if seed is not None:
            body["seed"] = int(seed)
        body.update(self.extra_body)
        return body

    def _parse(self, response) -> str:
        try:
            data = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise _Retryable(f"malformed response body (not JSON): "
                             f"{one_line(response.text, 80)!r}") from None
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if self.endpoint == "chat" else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise _Retryable(f"malformed response body (no choices[0]."
                             f"{'message.content' if self.endpoint == 'chat' else 'text'}): "
                             f"{one_line(response.text, 80)!r}") from None
        if not isinstance(text, str):
            raise _Retryable(f"malformed response body (answer is {type(text).__name__}, "
                             "not a string)")
        return text

    def _attempt(self, body) -> str:
        httpx = self._httpx
        try:
            response = self._client.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {self.timeout:g} s ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed: {type(exc).__name__}: {one_line(exc, 120)}") from None
        status = response.status_code
        if status >= 500 or status in _RETRY_STATUS:
            raise _Retryable(f"HTTP {status}: {_error_detail(response)}",
                             retry_after=_retry_after(response))
        if status >= 400:
            hint = ""
            if status in (401, 403) and not self._has_key:
                hint = f" (environment variable {self.api_key_env} is not set)"
            raise _Fatal(f"HTTP {status}{hint}: {_error_detail(response)}")
        return self._parse(response)

    def _delay(self, attempt: int, retry_after) -> float:
        d = min(self.max_backoff, self.backoff * (2.0 ** attempt))
        if self._jitter is not None:
            with self._jitter_lock:
                d *= 0.5 + 0.5 * float(self._jitter.random())
        if retry_after is not None:
            d = max(d, min(retry_after, self.max_backoff))
        return d

    def _request(self, prompt, seed, temperature, max_tokens, stop: threading.Event) -> str:
        body = self._body(prompt, seed, temperature, max_tokens)
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return self._attempt(body)
            except _Fatal as exc:
                raise BackendError(f"request to {self.url} failed: {exc}") from None
            except _Retryable as exc:
                last = exc
                if attempt + 1 == attempts or stop.is_set():
                    break
                # wait() instead of sleep(): a failing sibling request aborts the batch
                # without making us sit out our backoff
                if stop.wait(self._delay(attempt, exc.retry_after)):
                    break
        n = attempt + 1
        raise BackendError(f"request to {self.url} failed after {n} attempt"
                           f"{'s' if n > 1 else ''}: {last}")

    # -- the batch -------------------------------------------------------------------

    def generate(self, prompts, *, seed=None, temperature: float = 0.75,
                 max_tokens: int = 64, keys=None, callback=None) -> list:
        """Answer a batch of prompts, ``max_concurrency`` requests at a time.

        See :meth:`gmmproxy.llm.backend.Backend.generate`. Each request carries its own
        ``seed`` (servers that honour it then answer reproducibly). The first request
        that still fails after its retries aborts the batch with :class:`BackendError`.
        """
        prompts, seeds, _ = check_generate_args(prompts, seed, temperature, max_tokens, keys)
        out = [None] * len(prompts)
        if not prompts:
            return out
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(prompts)),
                                  thread_name_prefix="gmmproxy-openai")
        try:
            futures = {
                pool.submit(self._request, p, s, temperature, max_tokens, stop): i
                for i, (p, s) in enumerate(zip(prompts, seeds))
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    out[i] = fut.result()  # re-raises BackendError
                    if callback is not None:
                        callback(i)
        except BaseException:
            stop.set()  # tell the other requests to give up their retries
            # do not wait for requests still in flight (Ctrl-C must be prompt); they end
            # by themselves within one timeout
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return out


def _retry_after(response):
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare from LLM servers, fall back to our own backoff
    return seconds if np.isfinite(seconds) and seconds >= 0 else None


def _error_detail(response) -> str:
    """The server's error message: ``error.message`` of an OpenAI-style body, else the text."""
    try:
        data = json.loads(response.content)
        err = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(err, dict):
            err = err.get("message", err)
        if isinstance(err, str) and err.strip():
            return one_line(err, 160)
    except (ValueError, UnicodeDecodeError):
        pass
    return one_line(response.text, 160) or "(empty body)"
