"""``gmmproxy warmup``: registered, documented, compiles and reports the default variants."""
from click.testing import CliRunner

from gmmproxy.cli import main


def test_warmup_is_a_command_with_all_flag():
    res = CliRunner().invoke(main, ["warmup", "--help"])
    assert res.exit_code == 0
    assert "--all" in res.output and "NUMBA_CACHE_DIR" in res.output


def test_warmup_runs_and_lists_each_variant():
    res = CliRunner().invoke(main, ["warmup"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0].startswith("kernel cache: ")
    assert any(line.startswith("Algorithm 1, 1-d, kNN") for line in lines)
    assert any(line.startswith("Markov chain") for line in lines)
    assert any(line.startswith("Markov chain, k nearest senders") for line in lines)
    assert lines[-1].startswith("4 variants ready in ")
