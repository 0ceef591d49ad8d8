"""OpenAIBackend against a real HTTP server on 127.0.0.1 (see llm_fake_server.py)."""
import time

import numpy as np
import pytest

pytest.importorskip("httpx")

from gmmproxy.llm.backend import BackendError, request_seeds  # noqa: E402
from gmmproxy.llm.openai_backend import OpenAIBackend  # noqa: E402
from llm_fake_server import FakeServer, answer, closed_port  # noqa: E402

PROMPTS = ["I remember a rose.", "I remember a tulip.", "I remember an orchid.",
           "I remember a lily.", "I remember a poppy."]


def backend(server, **kw):
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 3)
    kw.setdefault("backoff", 0.01)
    return OpenAIBackend(server.base_url, "tiny-model", **kw)


def test_chat_request_body_and_answers(monkeypatch):
    monkeypatch.delenv("GMMPROXY_TEST_KEY", raising=False)
    with FakeServer() as s:
        b = backend(s, api_key_env="GMMPROXY_TEST_KEY")
        seeds = [11, 22, 33, 44, 55]
        got = b.generate(PROMPTS, seed=seeds, temperature=0.5, max_tokens=17)
        b.close()
    assert got == [answer(p, sd) for p, sd in zip(PROMPTS, seeds)]
    assert len(s.requests) == len(PROMPTS)
    by_prompt = {r["messages"][-1]["content"]: r for r in s.requests}
    for p, sd in zip(PROMPTS, seeds):
        r = by_prompt[p]
        assert r["_path"] == "/v1/chat/completions"
        assert r["model"] == "tiny-model"
        assert r["messages"] == [{"role": "user", "content": p}]
        assert r["seed"] == sd and r["temperature"] == 0.5 and r["max_tokens"] == 17
        assert r["_auth"] is None  # no key in the environment: no header


def test_completions_endpoint_and_api_key(monkeypatch):
    monkeypatch.setenv("GMMPROXY_TEST_KEY", "sk-test-123")
    with FakeServer() as s:
        b = backend(s, endpoint="completions", api_key_env="GMMPROXY_TEST_KEY")
        got = b.generate(PROMPTS[:2], seed=[1, 2])
    assert got == [answer(PROMPTS[0], 1), answer(PROMPTS[1], 2)]
    assert {r["_path"] for r in s.requests} == {"/v1/completions"}
    assert {r["prompt"] for r in s.requests} == set(PROMPTS[:2])
    assert all(r["_auth"] == "Bearer sk-test-123" for r in s.requests)
    # the key never reaches the run record
    assert "sk-test" not in repr(b.describe())


def test_int_seed_derives_per_request_seeds():
    with FakeServer() as s:
        got = backend(s).generate(PROMPTS, seed=7)
    expected = request_seeds(7, len(PROMPTS))
    assert got == [answer(p, sd) for p, sd in zip(PROMPTS, expected)]
    assert len(set(expected)) == len(expected)
    assert all(0 <= x < 2**31 for x in expected)
    # independent re-derivation: the first n uint32 words of SeedSequence(7), top bit cleared
    ref = np.random.SeedSequence(7).generate_state(len(PROMPTS), dtype=np.uint32) & 0x7FFFFFFF
    assert expected == [int(x) for x in ref]


@pytest.mark.parametrize("fault", ["500", "503", "408", "429", "timeout", "drop", "nonjson",
                                   "missing", "nullcontent"])
def test_transient_failures_are_retried(fault):
    with FakeServer(faults=[fault, fault], timeout_sleep=0.6) as s:
        b = backend(s, timeout=0.25, retries=2)
        got = b.generate(PROMPTS[:1], seed=[5])
    assert got == [answer(PROMPTS[0], 5)]
    assert len(s.requests) == 3  # two failures, then the answer


def test_mixed_faults_in_a_batch():
    faults = ["500", "nonjson", "missing", "timeout", "429"]
    with FakeServer(faults=faults, timeout_sleep=0.6) as s:
        b = backend(s, timeout=0.25, retries=5, max_concurrency=2)
        got = b.generate(PROMPTS, seed=[1, 2, 3, 4, 5])
    assert got == [answer(p, sd) for p, sd in zip(PROMPTS, [1, 2, 3, 4, 5])]
    assert len(s.requests) == len(PROMPTS) + len(faults)


@pytest.mark.parametrize("status", ["400", "401"])
def test_client_errors_are_not_retried(status, monkeypatch):
    monkeypatch.delenv("GMMPROXY_TEST_KEY", raising=False)
    with FakeServer(faults=[status]) as s:
        b = backend(s, retries=4, api_key_env="GMMPROXY_TEST_KEY")
        with pytest.raises(BackendError) as info:
            b.generate(PROMPTS[:1])
    msg = str(info.value)
    assert len(s.requests) == 1
    assert "\n" not in msg
    assert s.base_url + "/chat/completions" in msg and f"HTTP {status}" in msg
    if status == "401":
        assert "GMMPROXY_TEST_KEY is not set" in msg


def test_persistent_5xx_gives_one_line_error_after_retries():
    with FakeServer(always="500") as s:
        b = backend(s, retries=2)
        with pytest.raises(BackendError) as info:
            b.generate(PROMPTS[:1])
    msg = str(info.value)
    assert len(s.requests) == 3
    assert "\n" not in msg
    assert msg.startswith(f"request to {s.base_url}/chat/completions failed after 3 attempts")
    assert "HTTP 500" in msg and "injected failure" in msg


def test_unreachable_server():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    b = OpenAIBackend(url, "m", retries=1, backoff=0.01, timeout=1.0)
    with pytest.raises(BackendError) as info:
        b.generate(PROMPTS[:2])
    msg = str(info.value)
    assert f"{url}/chat/completions" in msg and "connection failed" in msg
    assert "after 2 attempts" in msg and "\n" not in msg


def test_backoff_is_exponential():
    # retries=3, backoff=0.1, no jitter: delays 0.1 + 0.2 + 0.4 before giving up
    with FakeServer(always="503") as s:
        b = backend(s, retries=3, backoff=0.1, jitter=None)
        t0 = time.perf_counter()
        with pytest.raises(BackendError):
            b.generate(PROMPTS[:1])
        elapsed = time.perf_counter() - t0
    assert len(s.requests) == 4
    assert 0.7 <= elapsed < 5.0
    # jitter scales each delay by a factor in [0.5, 1): total in [0.35, 0.7)
    with FakeServer(always="503") as s:
        b = backend(s, retries=3, backoff=0.1, jitter=123)
        t0 = time.perf_counter()
        with pytest.raises(BackendError):
            b.generate(PROMPTS[:1])
        elapsed = time.perf_counter() - t0
    assert 0.35 <= elapsed < 5.0


def test_bounded_concurrency_and_callback():
    with FakeServer(delay=0.15) as s:
        b = backend(s, max_concurrency=3)
        seen = []
        prompts = [f"I remember flower number {i}" for i in range(9)]
        got = b.generate(prompts, seed=list(range(9)), callback=seen.append)
    assert got == [answer(p, i) for i, p in enumerate(prompts)]
    assert sorted(seen) == list(range(9))
    assert 2 <= s.max_inflight <= 3


def test_describe_and_empty_batch():
    with FakeServer() as s:
        b = backend(s)
        assert b.generate([]) == []
        d = b.describe()
    assert d == {"kind": "openai", "base_url": s.base_url, "model": "tiny-model",
                 "endpoint": "chat"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(base_url="localhost:8080"), "base_url must be an http"),
        (dict(model=""), "model must be a non-empty str"),
        (dict(endpoint="embeddings"), "endpoint must be one of"),
        (dict(timeout=0), "timeout must be a float > 0; got 0"),
        (dict(retries=-1), "retries must be an int >= 0; got -1"),
        (dict(max_concurrency=0), "max_concurrency must be an int > 0; got 0"),
        (dict(jitter=-2), "jitter must be None or a non-negative int"),
    ],
)
def test_constructor_validation(kwargs, match):
    args = dict(base_url="http://127.0.0.1:1/v1", model="m")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        OpenAIBackend(args.pop("base_url"), args.pop("model"), **args)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(prompts="one string"), TypeError, "prompts must be a list of str"),
        (dict(seed=[1]), ValueError, "seed must hold one int per prompt"),
        (dict(seed=-3), ValueError, "seed must be a non-negative int; got -3"),
        (dict(temperature=-0.1), ValueError, "temperature must be a finite float >= 0"),
        (dict(max_tokens=0), ValueError, "max_tokens must be an int >= 1; got 0"),
    ],
)
def test_generate_validation(kwargs, exc, match):
    b = OpenAIBackend("http://127.0.0.1:1/v1", "m")
    args = dict(prompts=["a", "b"])
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        b.generate(args.pop("prompts"), **args)
