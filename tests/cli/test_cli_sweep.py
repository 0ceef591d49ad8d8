"""``gmmproxy sweep`` through the full CLI group (click's CliRunner)."""
from click.testing import CliRunner

from gmmproxy.cli import main


def test_cli_sweep_prints_one_line_per_cell(tmp_path):
    out = tmp_path / "s.csv"
    res = CliRunner().invoke(main, ["sweep", "--agents", "8", "--grid", "p_mirror=0,0.5", "--grid",
                                    "neighbors=1,7", "--replicates", "5", "--steps", "10", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert sum(1 for l in res.output.splitlines() if l.split()[:2] in (["0", "1"], ["0", "7"], ["0.5", "1"], ["0.5", "7"])) == 4
    assert out.exists() and len(out.read_text().splitlines()) == 21
    bad = CliRunner().invoke(main, ["sweep", "--grid", "p_mirror=2"])
    assert bad.exit_code == 2 and "p_mirror must be in [0, 1]" in bad.output
