"""``gmmproxy llm run`` through the real command group, against a real HTTP server."""
import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("httpx")

from llm_fake_server import FakeServer, closed_port  # noqa: E402

from gmmproxy.cli import main  # noqa: E402
from gmmproxy.llm.log import read_log  # noqa: E402

COMMON = ["--model", "tiny", "--agents", "6", "--steps", "3", "--p-mirror", "0.25",
          "--neighbors", "2", "--seed", "9", "--embedder", "tfidf", "--retries", "2",
          "--backoff", "0.01", "--timeout", "2"]


def invoke(*args):
    return CliRunner().invoke(main, ["llm", "run", *args])


def test_run_writes_a_log(tmp_path):
    out = tmp_path / "run.jsonl"
    with FakeServer() as s:
        res = invoke("--base-url", s.base_url, *COMMON, "--out", str(out))
    assert res.exit_code == 0, res.output
    assert f"wrote 3 steps of 6 agents to {out}" in res.stdout
    log = read_log(out)
    assert (log.n_steps, log.n_agents) == (3, 6)
    assert log.meta["p_mirror"] == 0.25 and log.meta["n_neighbors"] == 2
    assert log.meta["backend"]["base_url"] == s.base_url
    assert len(s.requests) == 18
    assert all(lab is not None for lab in log.labels.ravel())


def test_dead_server_error_then_resume(tmp_path):
    ref = tmp_path / "ref.jsonl"
    out = tmp_path / "run.jsonl"
    with FakeServer() as s:
        assert invoke("--base-url", s.base_url, *COMMON, "--out", str(ref)).exit_code == 0
    with FakeServer(die_after=8) as s:
        res = invoke("--base-url", s.base_url, *COMMON, "--out", str(out))
    assert res.exit_code == 1
    err = res.stderr.strip().splitlines()[-1]
    assert err.startswith(f"Error: request to {s.base_url}/chat/completions failed after 3 attempts")
    assert "1 of 3 steps saved" in err and "--resume" in err
    assert read_log(out).n_steps == 1
    # resume: the run parameters come from the log; only the new server is given
    with FakeServer() as s2:
        res = invoke("--out", str(out), "--resume", "--base-url", s2.base_url, "--retries", "1",
                     "--no-progress")
        assert len(s2.requests) == 12
    assert res.exit_code == 0, res.output
    a, b = read_log(out), read_log(ref)
    assert a.records == b.records
    np.testing.assert_array_equal(a.embeddings, b.embeddings)


def test_unreachable_server(tmp_path):
    out = tmp_path / "run.jsonl"
    url = f"http://127.0.0.1:{closed_port()}/v1"
    res = invoke("--base-url", url, *COMMON, "--out", str(out))
    assert res.exit_code == 1
    assert f"{url}/chat/completions" in res.stderr and "connection failed" in res.stderr
    assert read_log(out).n_steps == 0  # a valid, empty log


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--p-mirror", "1.5"], "Error: p_mirror must be in [0.0, 1.0]; got 1.5"),
        (["--neighbors", "6"], "Error: n_neighbors must be in [1, 5]"),
        (["--steps", "-2"], "Error: n_steps must be >= 0; got -2"),
        (["--timeout", "0"], "Error: timeout must be a float > 0; got 0"),
    ],
)
def test_bad_parameters(tmp_path, extra, message):
    res = invoke("--base-url", "http://127.0.0.1:9/v1", *COMMON, *extra,
                 "--out", str(tmp_path / "x.jsonl"))
    assert res.exit_code == 2
    assert message in res.stderr


def test_resume_with_different_parameters_is_refused(tmp_path):
    out = tmp_path / "run.jsonl"
    with FakeServer() as s:
        assert invoke("--base-url", s.base_url, *COMMON, "--out", str(out)).exit_code == 0
        res = invoke("--base-url", s.base_url, *COMMON, "--p-mirror", "0.5", "--out", str(out),
                     "--resume")
    assert res.exit_code == 2
    assert "cannot resume" in res.stderr and "p_mirror=0.5 (log: 0.25)" in res.stderr


def test_existing_out_and_missing_resume(tmp_path):
    out = tmp_path / "run.jsonl"
    out.write_text("something\n")
    res = invoke("--base-url", "http://127.0.0.1:9/v1", *COMMON, "--out", str(out))
    assert res.exit_code == 2 and "already exists" in res.stderr
    res = invoke("--out", str(tmp_path / "nope.jsonl"), "--resume")
    assert res.exit_code == 2 and "does not exist" in res.stderr
    res = invoke("--out", str(tmp_path / "y.jsonl"), *COMMON)
    assert res.exit_code == 2 and "--base-url is required" in res.stderr


def test_replay_backend_and_memories_file(tmp_path):
    mem = tmp_path / "mem.txt"
    mem.write_text("I love the tulip.\nThe iris is best.\nRoses!\nA lily pond.\n")
    src = tmp_path / "src.jsonl"
    with FakeServer() as s:
        res = invoke("--base-url", s.base_url, "--model", "m", "--memories", str(mem),
                     "--steps", "2", "--neighbors", "1", "--seed", "3", "--embedder", "tfidf",
                     "--out", str(src))
    assert res.exit_code == 0, res.output
    assert read_log(src).meta["memories"] == ["I love the tulip.", "The iris is best.",
                                               "Roses!", "A lily pond."]
    out = tmp_path / "replayed.jsonl"
    res = invoke("--backend", "replay", "--replay", str(src), "--memories", str(mem),
                 "--steps", "2", "--neighbors", "1", "--seed", "3", "--embedder", "tfidf",
                 "--out", str(out))
    assert res.exit_code == 0, res.output
    assert read_log(out).records == read_log(src).records
