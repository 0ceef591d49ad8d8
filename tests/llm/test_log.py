"""The JSON Lines run log: round trip, crash recovery, resume, validation."""
import json
import os

import numpy as np
import pytest

from gmmproxy.llm.log import LogWriter, read_log, sidecar_path

N = 4
D = 3


def _records(t, n=N):
    # deterministic, distinguishable content; partner None when mirrored
    out = []
    for i in range(n):
        mirrored = (t + i) % 3 == 0
        out.append(dict(agent=i, partner=None if mirrored else (i + t + 1) % n,
                        mirrored=mirrored, text=f"step {t} agent {i} l'été \"q\"",
                        label=None if (t, i) == (1, 2) else f"flower{(t * i) % 5}",
                        memory_after=f"m{t}.{i}"))
    return out


def _emb(t, n=N, d=D):
    return (np.arange(n * d, dtype=np.float64).reshape(n, d) + 100.0 * t) / 7.0


def _write(path, steps, embeddings=True, **meta):
    meta = dict(n_agents=N, backend="test", p_mirror=0.5, **meta)
    with LogWriter(path, meta=meta) as w:
        for t in range(steps):
            w.append_step(t, _records(t), embeddings=_emb(t) if embeddings else None)
    return path


def test_round_trip_with_sidecar(tmp_path):
    p = _write(tmp_path / "run.jsonl", 3)
    log = read_log(p)
    assert log.n_agents == N and log.n_steps == 3
    assert log.meta["type"] == "run" and log.meta["backend"] == "test"
    assert log.meta["embedding_dim"] == D
    assert "package_version" in log.meta and "start_time" in log.meta
    for t in range(3):
        for r in _records(t):
            i = r["agent"]
            assert log.texts[t, i] == r["text"]
            assert log.labels[t, i] == r["label"]
            assert log.partners[t, i] == (-1 if r["partner"] is None else r["partner"])
            assert log.mirrored[t, i] == r["mirrored"]
    assert log.labels[1, 2] is None
    assert log.interactions_known
    assert [(r["t"], r["agent"]) for r in log.records] == [(t, i) for t in range(3) for i in range(N)]
    assert log.records[5]["memory_after"] == "m1.1"
    # float32 storage of the embeddings
    want = np.stack([_emb(t) for t in range(3)]).astype(np.float32)
    assert log.embeddings.dtype == np.float32
    np.testing.assert_array_equal(log.embeddings, want)
    # the sidecar is raw float32, exactly T * n * D values
    assert os.path.getsize(sidecar_path(p)) == 3 * N * D * 4
    # every line is a JSON object; the first is the run record
    lines = open(p, encoding="utf-8").read().splitlines()
    assert len(lines) == 1 + 3 * N
    assert json.loads(lines[0])["type"] == "run"
    assert all(json.loads(x)["type"] == "response" for x in lines[1:])


def test_without_embeddings_and_null_interactions(tmp_path):
    p = tmp_path / "run.jsonl"
    with LogWriter(p, meta=dict(n=2)) as w:  # 'n' accepted as alias of n_agents
        w.append_step(0, [dict(agent=1, partner=None, mirrored=None, text="b", label="x"),
                          dict(agent=0, partner=None, mirrored=None, text="a", label="y")])
    log = read_log(p)
    assert log.meta["n_agents"] == 2 and log.embeddings is None
    assert list(log.texts[0]) == ["a", "b"]  # ordered by agent whatever the input order
    assert not log.interactions_known
    np.testing.assert_array_equal(log.partners, [[-1, -1]])
    np.testing.assert_array_equal(log.mirrored, [[False, False]])
    assert not os.path.exists(sidecar_path(p))


def test_torn_last_line_and_incomplete_step_are_dropped(tmp_path):
    p = _write(tmp_path / "run.jsonl", 2, embeddings=False)
    size_complete = os.path.getsize(p)
    rec = dict(type="response", t=2, agent=0, partner=1, mirrored=False, text="x", label="y")
    with open(p, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec) + "\n")           # one record of step 2 (incomplete step)
        fh.write('{"type": "response", "t": 2, "ag')  # torn line (crash mid-write)
    log = read_log(p)
    assert log.n_steps == 2
    assert log.texts.shape == (2, N)
    # resume truncates the file back to the two complete steps
    with LogWriter(p, resume=True) as w:
        assert w.completed_steps == 2
        assert os.path.getsize(p) == size_complete
        assert [r["agent"] for r in w.last_state] == list(range(N))
        assert w.last_state[3]["text"] == _records(1)[3]["text"]
        w.append_step(2, _records(2))
    log = read_log(p)
    assert log.n_steps == 3 and log.texts[2, 1] == _records(2)[1]["text"]


def test_corrupt_last_newline_terminated_line_is_treated_as_torn(tmp_path):
    p = _write(tmp_path / "run.jsonl", 1, embeddings=False)
    with open(p, "a") as fh:
        fh.write('{"type": "resp\n')
    assert read_log(p).n_steps == 1


def test_corruption_in_the_middle_is_an_error(tmp_path):
    p = _write(tmp_path / "run.jsonl", 2, embeddings=False)
    lines = open(p).read().splitlines(keepends=True)
    lines[2] = "garbage\n"
    open(p, "w").writelines(lines)
    with pytest.raises(ValueError, match="corrupt"):
        read_log(p)


def test_sidecar_truncation_decides_completeness(tmp_path):
    p = _write(tmp_path / "run.jsonl", 3)
    sp = sidecar_path(p)
    # crash after step 2's JSON but with its embeddings only partly written
    with open(sp, "r+b") as fh:
        fh.truncate(2 * N * D * 4 + 5)
    log = read_log(p)
    assert log.n_steps == 2 and log.embeddings.shape == (2, N, D)
    with LogWriter(p, resume=True) as w:
        assert w.completed_steps == 2
        assert os.path.getsize(sp) == 2 * N * D * 4
        assert len(open(p).read().splitlines()) == 1 + 2 * N
        w.append_step(2, _records(2), embeddings=_emb(2) * 2)
    log = read_log(p)
    assert log.n_steps == 3
    np.testing.assert_allclose(log.embeddings[2], (_emb(2) * 2).astype(np.float32))
    np.testing.assert_allclose(log.embeddings[1], _emb(1).astype(np.float32))


def test_extra_sidecar_rows_are_ignored_and_cut_on_resume(tmp_path):
    p = _write(tmp_path / "run.jsonl", 2)
    with open(sidecar_path(p), "ab") as fh:  # crash after the sidecar write of step 2
        fh.write(_emb(2).astype("<f4").tobytes())
    assert read_log(p).n_steps == 2
    w = LogWriter(p, resume=True)
    w.close()
    assert os.path.getsize(sidecar_path(p)) == 2 * N * D * 4


def test_resume_of_empty_log_and_embedding_dim_from_first_step(tmp_path):
    p = tmp_path / "run.jsonl"
    LogWriter(p, meta=dict(n_agents=N)).close()
    with LogWriter(p, resume=True) as w:
        assert w.completed_steps == 0 and w.last_state is None
        w.append_step(0, _records(0), embeddings=_emb(0))
        assert w.meta["embedding_dim"] == D
        with pytest.raises(ValueError, match="embeddings must be given"):
            w.append_step(1, _records(1))
    assert read_log(p).embeddings.shape == (1, N, D)


def test_refuses_to_overwrite(tmp_path):
    p = _write(tmp_path / "run.jsonl", 1)
    with pytest.raises(ValueError, match="already exists"):
        LogWriter(p, meta=dict(n_agents=N))
    with LogWriter(p, meta=dict(n_agents=2), overwrite=True) as w:
        assert w.completed_steps == 0
    log = read_log(p)
    assert log.n_agents == 2 and log.n_steps == 0
    assert not os.path.exists(sidecar_path(p))  # the stale sidecar went with the old log


def test_validation_messages(tmp_path):
    p = tmp_path / "run.jsonl"
    with pytest.raises(ValueError, match="n_agents"):
        LogWriter(p, meta=dict(backend="x"))
    with pytest.raises(TypeError, match="meta"):
        LogWriter(tmp_path / "b.jsonl")
    with LogWriter(p, meta=dict(n_agents=2)) as w:
        good = [dict(agent=i, partner=None, mirrored=True, text="t", label=None) for i in range(2)]
        with pytest.raises(ValueError, match="t must equal completed_steps=0; got 1"):
            w.append_step(1, good)
        with pytest.raises(ValueError, match="2 dicts; got 1"):
            w.append_step(0, good[:1])
        with pytest.raises(ValueError, match="exactly once"):
            w.append_step(0, [good[0], good[0]])
        with pytest.raises(ValueError, match="missing the keys"):
            w.append_step(0, [dict(agent=0, text="t"), good[1]])
        with pytest.raises(ValueError, match="partner"):
            w.append_step(0, [dict(good[0], partner=5), good[1]])
        with pytest.raises(ValueError, match="shape"):
            w.append_step(0, good, embeddings=np.zeros((3, 2)))
        with pytest.raises(ValueError, match="finite"):
            w.append_step(0, good, embeddings=np.full((2, 2), np.nan))
        w.append_step(0, good)  # the failed calls wrote nothing
        with pytest.raises(ValueError, match="from step 0"):
            w.append_step(1, good, embeddings=np.zeros((2, 2)))
    assert read_log(p).n_steps == 1
    with pytest.raises(ValueError, match="existing directory"):
        LogWriter(tmp_path / "no" / "such.jsonl", meta=dict(n_agents=2))
    with pytest.raises(ValueError, match="not found"):
        read_log(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="run record"):
        (tmp_path / "bad.jsonl").write_text('{"type": "response"}\n')
        read_log(tmp_path / "bad.jsonl")
