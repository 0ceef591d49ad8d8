"""The flower runner end to end against a real HTTP server, resume, replay, validation."""
import json

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import binomtest

pytest.importorskip("httpx")

from gmmproxy.bridge.flowers import DEFAULT_MEMORIES, extract_flower  # noqa: E402
from gmmproxy.llm.backend import BackendError  # noqa: E402
from gmmproxy.llm.embedders import get_embedder  # noqa: E402
from gmmproxy.llm.log import read_log  # noqa: E402
from gmmproxy.llm.openai_backend import OpenAIBackend  # noqa: E402
from gmmproxy.llm.replay_backend import ReplayBackend  # noqa: E402
from gmmproxy.llm.runner import (  # noqa: E402
    DEFAULT_TEMPLATE,
    FlowerParameters,
    load_memories,
    nearest_neighbors,
    render_prompt,
    run_flowers,
)
from llm_fake_server import FakeServer, answer  # noqa: E402

N, T, K, P = 8, 4, 3, 0.3


def client(server, **kw):
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.01)
    return OpenAIBackend(server.base_url, "tiny-model", **kw)


_OPTIONS = ("resume", "overwrite", "on_start", "on_request", "on_step")


def flowers(path, backend, **kw):
    """run_flowers with the parameters object built from the keywords that are parameters."""
    options = {k: kw.pop(k) for k in _OPTIONS if k in kw}
    return run_flowers(path, backend, FlowerParameters(**kw), **options)


def run(path, backend, **kw):
    args = dict(n_agents=N, n_steps=T, p_mirror=P, n_neighbors=K, seed=42, embedder="tfidf")
    args.update(kw)
    return flowers(path, backend, **args)


def comparable(log):
    """Everything of a log that must not depend on how the run was executed."""
    recs = [{k: v for k, v in r.items()} for r in log.records]
    meta = {k: v for k, v in log.meta.items()
            if k not in ("backend", "start_time", "package_version")}
    return meta, recs, log.embeddings


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run, shared by several tests."""
    path = tmp_path_factory.mktemp("ref") / "ref.jsonl"
    with FakeServer() as s:
        log = run(path, client(s))
        bodies = list(s.requests)
    return log, bodies


# ---------------------------------------------------------------------------------------
# the dynamics, re-derived independently from the log
# ---------------------------------------------------------------------------------------


def test_log_is_the_documented_process(reference):
    log, bodies = reference
    assert log.n_agents == N and log.n_steps == T
    assert log.meta["memories"] == list(DEFAULT_MEMORIES[:N])
    assert log.embeddings.shape[:2] == (T, N)
    tfidf = get_embedder("tfidf")
    ss = np.random.SeedSequence(42)
    memory = list(DEFAULT_MEMORIES[:N])
    by_seed = {b["seed"]: b for b in bodies}
    for t in range(T):
        recs = [r for r in log.records if r["t"] == t]
        texts = [r["text"] for r in recs]
        # the LLM was asked with the agent's memory and the step's request seed
        words = np.random.SeedSequence(42, spawn_key=(t, 0)).generate_state(N, np.uint32)
        for i, r in enumerate(recs):
            assert r["memory"] == memory[i]
            assert r["seed"] == int(words[i]) & 0x7FFFFFFF
            body = by_seed[r["seed"]]
            assert body["messages"][-1]["content"] == DEFAULT_TEMPLATE.replace("{memory}", memory[i])
            assert body["temperature"] == 0.75 and body["max_tokens"] == 64
            assert r["text"] == answer(body["messages"][-1]["content"], r["seed"])
            assert r["label"] == extract_flower(r["text"])
        # update: PCG64 on child (t, 1); u then c; neighbours by (distance, index)
        emb = tfidf.embed(texts)
        np.testing.assert_allclose(log.embeddings[t], emb, rtol=1e-6, atol=1e-7)
        d = cdist(emb, emb)
        np.fill_diagonal(d, np.inf)
        rng = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence(ss.entropy, spawn_key=(t, 1))))
        u = rng.random(N)
        c = rng.integers(0, K, size=N)
        for i, r in enumerate(recs):
            order = np.lexsort((np.arange(N), np.round(d[i], 12)))[:K]
            assert r["mirrored"] == bool(u[i] < P)
            expected = i if r["mirrored"] else int(order[c[i]])
            assert r["partner"] == expected
            assert r["memory_after"] == texts[expected]
        memory = [r["memory_after"] for r in recs]
        assert log.partners[t].tolist() == [r["partner"] for r in recs]


def test_nearest_neighbors_against_brute_force():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(25, 6))
    e[7] = e[3]  # exact ties: both are each other's nearest at distance 0
    e[12] = e[3]
    got = nearest_neighbors(e, 5)
    d = cdist(e, e)
    np.fill_diagonal(d, np.inf)
    for i in range(25):
        ref = np.lexsort((np.arange(25), d[i]))[:5]
        assert got[i].tolist() == ref.tolist()
    assert got[3, :2].tolist() == [7, 12] and got[7, :2].tolist() == [3, 12]


def test_mirroring_frequency(tmp_path):
    # replay a fixed table of texts: 20 agents x 40 steps, p = 0.35
    texts = np.array([[answer(f"I remember a {f}", t * 31 + i) for i, f in
                       enumerate(["rose", "tulip", "lily", "poppy", "iris"] * 4)]
                      for t in range(40)], dtype=object)
    log = flowers(tmp_path / "m.jsonl", ReplayBackend(texts), n_agents=20, n_steps=40,
                      p_mirror=0.35, n_neighbors=4, seed=5, embedder="tfidf",
                      store_embeddings=False)
    k = int(log.mirrored.sum())
    assert binomtest(k, 800, 0.35).pvalue > 1e-3
    assert log.embeddings is None
    # non-mirroring partners are never the agent itself
    idx = np.arange(20)
    assert np.all((log.partners == idx) == log.mirrored)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_extreme_mirroring_probabilities(tmp_path, p):
    texts = np.array([[f" The prettiest flower is the rose number {t}-{i}." for i in range(6)]
                      for t in range(3)], dtype=object)
    log = flowers(tmp_path / "x.jsonl", ReplayBackend(texts), n_agents=6, n_steps=3,
                      p_mirror=p, n_neighbors=2, seed=1, embedder="tfidf")
    assert log.mirrored.all() if p == 1.0 else not log.mirrored.any()
    for r in log.records:
        assert r["memory_after"] == log.texts[r["t"], r["partner"]]


# ---------------------------------------------------------------------------------------
# failure, crash and resume
# ---------------------------------------------------------------------------------------


def test_dead_server_then_resume_equals_uninterrupted_run(tmp_path, reference):
    ref, _ = reference
    path = tmp_path / "run.jsonl"
    with FakeServer(die_after=2 * N + 3) as s:
        with pytest.raises(BackendError) as info:
            run(path, client(s))
    msg = str(info.value)
    assert s.base_url in msg and "\n" not in msg and "failed after 3 attempts" in msg
    partial = read_log(path)  # still a valid log holding the two complete steps
    assert partial.n_steps == 2
    assert partial.records == ref.records[: 2 * N]
    # a new server (another port: base_url may change on resume)
    with FakeServer() as s2:
        log = flowers(path, client(s2), resume=True, embedder="tfidf")
        assert len(s2.requests) == (T - 2) * N  # no step repeated
    assert comparable(log)[:2] == comparable(ref)[:2]
    np.testing.assert_array_equal(log.embeddings, ref.embeddings)


def test_interrupt_mid_step_then_resume(tmp_path, reference):
    ref, _ = reference
    path = tmp_path / "run.jsonl"
    calls = []

    def ctrl_c(i):
        calls.append(i)
        if len(calls) == N + 2:  # in the middle of step 1
            raise KeyboardInterrupt

    with FakeServer() as s:
        with pytest.raises(KeyboardInterrupt):
            run(path, client(s), on_request=ctrl_c)
        assert read_log(path).n_steps == 1
        # resume with every parameter given again (they match the record)
        log = run(path, client(s), resume=True)
    assert log.records == ref.records
    np.testing.assert_array_equal(log.embeddings, ref.embeddings)


def test_resume_of_a_finished_run_is_a_no_op(tmp_path):
    path = tmp_path / "run.jsonl"
    with FakeServer() as s:
        first = run(path, client(s), n_steps=2)
        n_req = len(s.requests)
        again = flowers(path, client(s), resume=True, embedder="tfidf")
        assert len(s.requests) == n_req
    assert again.records == first.records


@pytest.mark.parametrize(
    "change, needle",
    [
        (dict(p_mirror=0.5), "p_mirror=0.5 (log: 0.3)"),
        (dict(n_neighbors=2), "n_neighbors=2 (log: 3)"),
        (dict(seed=43), "seed=43"),
        (dict(n_steps=9), "n_steps=9 (log: 1)"),
        (dict(template="Memory: {memory}. Prettiest flower?"), "template="),
        (dict(memories=["a rose", "a tulip"] * 4), "memories differ"),
        (dict(model="other-model"), "backend="),
    ],
)
def test_resume_refuses_different_parameters(tmp_path, change, needle):
    path = tmp_path / "run.jsonl"
    with FakeServer() as s:
        run(path, client(s), n_steps=1)
        change = dict(change)
        model = change.pop("model", "tiny-model")
        b = OpenAIBackend(s.base_url, model, retries=0)
        with pytest.raises(ValueError) as info:
            run(path, b, resume=True, **change)
    assert "cannot resume" in str(info.value) and needle in str(info.value)
    assert read_log(path).n_steps == 1  # untouched


def test_new_run_refuses_to_overwrite(tmp_path):
    path = tmp_path / "run.jsonl"
    texts = np.array([[" The prettiest flower is the rose."] * 3], dtype=object)
    flowers(path, ReplayBackend(texts), n_agents=3, n_steps=1, n_neighbors=1,
                embedder="tfidf", seed=0)
    with pytest.raises(ValueError, match="already exists"):
        flowers(path, ReplayBackend(texts), n_agents=3, n_steps=1, n_neighbors=1,
                    embedder="tfidf", seed=0)


# ---------------------------------------------------------------------------------------
# replay
# ---------------------------------------------------------------------------------------


def test_replay_reproduces_the_run(tmp_path, reference):
    ref, _ = reference
    log = run(tmp_path / "replayed.jsonl", ReplayBackend(ref.path))
    assert comparable(log)[:2] == comparable(ref)[:2]
    assert log.meta["backend"] == {"kind": "replay", "source": ref.path}


def test_replay_beyond_the_log_fails_cleanly(tmp_path, reference):
    ref, _ = reference
    with pytest.raises(BackendError, match=r"has no response for t=4, agent=0"):
        run(tmp_path / "r.jsonl", ReplayBackend(ref.path), n_steps=T + 1)
    assert read_log(tmp_path / "r.jsonl").n_steps == T


def test_replay_needs_keys():
    with pytest.raises(ValueError, match="keys must give"):
        ReplayBackend([["a", "b"]]).generate(["x", "y"])


# ---------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------


def test_load_memories_from_published_npz_and_text(tmp_path, flower_data_dir):
    RAGS = str(flower_data_dir / "RAGs.npz")
    mems = load_memories(RAGS)
    arr = np.load(RAGS)["arr_0"]
    assert len(mems) == arr.shape[0] == 30
    assert mems == [str(s).strip() for s in arr[:, 1, 0]]
    f = tmp_path / "m.txt"
    f.write_text("  A rose.\n\nA tulip {braces}.\n", encoding="utf-8")
    assert load_memories(f) == ["A rose.", "A tulip {braces}."]
    assert render_prompt("Remember: {memory}!", "A tulip {x}.") == "Remember: A tulip {x}.!"
    empty = tmp_path / "e.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="holds no sentence"):
        load_memories(empty)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(p_mirror=1.5), ValueError, r"p_mirror must be in \[0.0, 1.0\]; got 1.5"),
        (dict(p_mirror=-0.1), ValueError, "p_mirror must be"),
        (dict(n_neighbors=0), ValueError, "n_neighbors must be >= 1; got 0"),
        (dict(n_neighbors=8), ValueError, r"n_neighbors must be in \[1, 7\]"),
        (dict(n_agents=1), ValueError, "n_agents must be >= 2; got 1"),
        (dict(n_agents=31), ValueError, r"n_agents must be <= the number of memories \(30\)"),
        (dict(n_steps=-1), ValueError, "n_steps must be >= 0; got -1"),
        (dict(n_steps=2.5), TypeError, "n_steps must be an int"),
        (dict(temperature=-1.0), ValueError, "temperature must be >= 0"),
        (dict(max_tokens=0), ValueError, "max_tokens must be >= 1; got 0"),
        (dict(template="no placeholder"), ValueError, "template must contain the placeholder"),
        (dict(memories=["ok", ""]), ValueError, r"memories\[1\] must be a non-empty str"),
        (dict(seed=-1), ValueError, "seed must be a non-negative int"),
        (dict(embedder=object()), TypeError, "embedder must be a name"),
    ],
)
def test_validation(tmp_path, kwargs, exc, match):
    args = dict(n_agents=8, n_steps=1, p_mirror=0.2, n_neighbors=3, seed=0, embedder="tfidf")
    if "memories" in kwargs:
        args.pop("n_agents")
    args.update(kwargs)
    texts = np.array([["x"] * 8], dtype=object)
    with pytest.raises(exc, match=match):
        flowers(tmp_path / "v.jsonl", ReplayBackend(texts), **args)
    assert not (tmp_path / "v.jsonl").exists()


def test_fresh_seed_is_recorded_and_reused_on_resume(tmp_path):
    texts = np.array([[f" The prettiest flower is the {f}." for f in
                       ["rose", "tulip", "lily", "iris"]]] * 3, dtype=object)
    path = tmp_path / "s.jsonl"
    first = flowers(path, ReplayBackend(texts), n_agents=4, n_steps=3, n_neighbors=2,
                        p_mirror=0.5, embedder="tfidf")  # seed=None: fresh entropy
    rec = json.loads(path.read_text().splitlines()[0])["seed"]
    again = flowers(tmp_path / "s2.jsonl", ReplayBackend(texts), n_agents=4, n_steps=3,
                        n_neighbors=2, p_mirror=0.5, embedder="tfidf",
                        seed=np.random.SeedSequence(int(rec["entropy"])))
    assert again.records == first.records


# ---------------------------------------------------------------------------------------
# the parameters object and the deprecated keyword call
# ---------------------------------------------------------------------------------------


def test_parameters_are_checked_once_on_construction():
    p = FlowerParameters(n_steps=np.int64(3), p_mirror=1, memories=["a", "b"])
    assert type(p.n_steps) is int and type(p.p_mirror) is float and p.memories == ("a", "b")
    with pytest.raises(ValueError, match=r"p_mirror must be in \[0.0, 1.0\]; got 2.0"):
        FlowerParameters(p_mirror=2)
    with pytest.raises(TypeError, match="extractor must be callable"):
        FlowerParameters(extractor="extract_flower")
    with pytest.raises(TypeError, match="store_embeddings must be a bool"):
        FlowerParameters(store_embeddings=1)
    with pytest.raises(AttributeError):  # frozen
        p.n_steps = 4


def test_keyword_call_is_deprecated_and_gives_the_same_run(tmp_path):
    texts = np.array([[f" The prettiest flower is the {f}." for f in
                       ["rose", "tulip", "lily", "iris"]]] * 3, dtype=object)
    kw = dict(n_agents=4, n_steps=3, n_neighbors=2, p_mirror=0.5, embedder="tfidf", seed=3)
    new = run_flowers(tmp_path / "new.jsonl", ReplayBackend(texts), FlowerParameters(**kw))
    with pytest.warns(DeprecationWarning, match="FlowerParameters"):
        old = run_flowers(tmp_path / "old.jsonl", ReplayBackend(texts), **kw)
    assert old.records == new.records and old.meta["seed"] == new.meta["seed"]
    with pytest.raises(TypeError, match="not both"):
        run_flowers(tmp_path / "b.jsonl", ReplayBackend(texts), FlowerParameters(), n_steps=1)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['n_step'\]"):
        run_flowers(tmp_path / "c.jsonl", ReplayBackend(texts), n_step=1)
    assert not (tmp_path / "b.jsonl").exists() and not (tmp_path / "c.jsonl").exists()
