"""`gmmproxy llm import`, `gmmproxy llm silos`, `gmmproxy perspective` through the real group."""
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from gmmproxy import metrics
from gmmproxy.bridge.flowers import extract_flower
from gmmproxy.bridge.trajectory import from_log
from gmmproxy.cli import main
from gmmproxy.llm.log import LogWriter, read_log


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_import_command(tmp_path, flower_data_dir):
    for name in ("output7_25_1.csv", "output7_25_1_2nd.csv"):
        shutil.copy(flower_data_dir / name, tmp_path)
    out = tmp_path / "logs"
    res = _run("llm", "import", tmp_path / "output7_25_1.csv", tmp_path / "output7_25_1_2nd.csv",
               "--out", out)
    assert res.exit_code == 0, res.output
    assert "imported 1 runs; labels extracted for 2400/2400 answers (100.0%)" in res.output
    log = read_log(out / "flowers_p7_k25_v1.jsonl")
    assert (log.n_steps, log.n_agents) == (80, 30) and log.meta["p_mirror"] == 0.7
    # a second import refuses to overwrite: one-line error, exit status 2
    res = CliRunner().invoke(main, ["llm", "import", str(tmp_path), "--out", str(out)])
    assert res.exit_code == 2 and "Error:" in res.output and "overwrite" in res.output
    res = _run("llm", "import", tmp_path, "--out", out, "--overwrite")
    assert res.exit_code == 0, res.output


def test_silos_command_json_matches_metrics(imported_logs):
    path = imported_logs[(2, 5, 1)]
    res = _run("llm", "silos", path, "--json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    # independent recomputation from the texts with the extractor
    texts = read_log(path).texts
    labels = np.array([[extract_flower(x) for x in row] for row in texts])
    n_silos = [len(set(row)) for row in labels]
    assert rep["n_silos"] == n_silos
    stab = [None] + [float(np.mean(labels[t] == labels[t - 1])) for t in range(1, 80)]
    assert rep["stability"][0] is None
    np.testing.assert_allclose(rep["stability"][1:], stab[1:])
    ent = []
    for row in labels:
        _, counts = np.unique(row, return_counts=True)
        q = counts / counts.sum()
        ent.append(float(-(q * np.log2(q)).sum()))
    np.testing.assert_allclose(rep["entropy_bits"], ent, atol=1e-12)
    single = [t for t in range(80) if all(n == 1 for n in n_silos[t:])]
    assert rep["time_to_single_silo"] == (single[0] if single else None)
    final = dict(zip(*np.unique(labels[-1], return_counts=True)))
    assert rep["final_silos"] == {k: int(v) for k, v in final.items()}
    assert rep["summary"] == metrics.summarize(from_log(path).silos)


def test_silos_command_text_and_plot(imported_logs, tmp_path):
    path = imported_logs[(2, 15, 0)]
    silos = from_log(path).silos
    ns = metrics.n_silos(silos)
    st = metrics.stability(silos)
    t1 = int(metrics.time_to_single_silo(silos))
    res = _run("llm", "silos", path, "--every", "20", "--plot", tmp_path / "silos.png")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "run: p_mirror=0.2 n_neighbors=15 replicate=0" in lines[1]
    rows = {int(l.split()[0]): l.split() for l in lines if l[:4].strip().isdigit()}
    assert sorted(rows) == [0, 20, 40, 60, 79]
    for t, cols in rows.items():
        assert int(cols[1]) == ns[t]
        assert cols[2] == ("-" if t == 0 else f"{st[t]:.3f}")
    assert f"time to one silo: {t1}" in res.output and t1 > 0
    assert (tmp_path / "silos.png").stat().st_size > 1000


def test_silos_command_errors(imported_logs, tmp_path):
    res = CliRunner().invoke(main, ["llm", "silos", str(imported_logs[(2, 1, 0)]), "--every", "0"])
    assert res.exit_code == 2 and "every must be >= 1; got 0" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n{}\n")
    res = CliRunner().invoke(main, ["llm", "silos", str(bad)])
    assert res.exit_code == 2 and "Error:" in res.output


@pytest.fixture
def short_log(imported_logs, tmp_path):
    """The first 12 steps of a published run, as a log of its own."""
    src = read_log(imported_logs[(7, 5, 0)])
    p = tmp_path / "short.jsonl"
    with LogWriter(p, meta=dict(src.meta, n_steps=12, start_time=None)) as w:
        for t in range(12):
            w.append_step(t, [{k: r[k] for k in ("agent", "partner", "mirrored", "text", "label")}
                              for r in src.records[30 * t: 30 * (t + 1)]])
    return p


def test_perspective_command(short_log, tmp_path):
    out = tmp_path / "persp.npz"
    res = _run("perspective", short_log, "--embedder", "tfidf", "--save", out, "--every", "5",
               "--plot", tmp_path / "p.png", "--clusters-plot", tmp_path / "c.png",
               "--max-clusters", "4")
    assert res.exit_code == 0, res.output
    assert "embeddings: tfidf (D = 2048)" in res.output
    z = np.load(out)
    T, n, d = z["positions"].shape
    assert (T, n) == (12, 30) and d >= 1
    assert f"dimension {d}" in res.output
    assert z["iso_mirror"].shape == (12,) and z["iso_mirror"][0] == 0
    assert z["n_clusters"].shape == (12,) and np.isnan(z["ari"][0])
    assert np.all((z["n_clusters"] >= 1) & (z["n_clusters"] <= 4))
    np.testing.assert_array_equal(z["silos"], from_log(short_log).silos)
    rows = [l.split() for l in res.output.splitlines() if l[:4].strip().isdigit()]
    assert [int(r[0]) for r in rows] == [0, 5, 10, 11]
    assert [int(r[2]) for r in rows] == [int(z["n_clusters"][t]) for t in (0, 5, 10, 11)]
    assert (tmp_path / "p.png").stat().st_size > 1000 and (tmp_path / "c.png").stat().st_size > 1000
    # answers naming the same flower are closer in perspective space than different ones
    from scipy.spatial.distance import cdist

    X, lab = z["positions"][-1], z["silos"][-1]
    D = cdist(X, X)
    same = (lab[:, None] == lab[None, :]) & ~np.eye(30, dtype=bool)
    if (~same).any() and same.any():
        assert D[same].mean() < D[~(lab[:, None] == lab[None, :])].mean()


def test_perspective_command_errors(short_log):
    res = CliRunner().invoke(main, ["perspective", str(short_log), "--embedder", "tfidf",
                                    "--n-components", "zero"])
    assert res.exit_code == 2 and "n_components must be 'auto' or an int >= 1; got 'zero'" in res.output
    res = CliRunner().invoke(main, ["perspective", str(short_log), "--embedder", "nope"])
    assert res.exit_code == 2 and "embedder must be" in res.output


def test_perspective_command_uses_stored_embeddings(tmp_path):
    # three groups of agents with stored 3-d embeddings; no embedder needed
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 5
    groups = np.repeat(np.arange(3), 4)
    names = ["rose", "tulip", "lily"]
    p = tmp_path / "emb.jsonl"
    with LogWriter(p, meta=dict(n_agents=12)) as w:
        for t in range(5):
            recs = [dict(agent=i, partner=None, mirrored=True,
                         text=f"The prettiest flower is the {names[g]}.", label=names[g])
                    for i, g in enumerate(groups)]
            w.append_step(t, recs, embeddings=centres[groups] + rng.normal(scale=0.1, size=(12, 3)))
    out = tmp_path / "e.npz"
    res = _run("perspective", p, "--save", out, "--max-clusters", "4")
    assert res.exit_code == 0, res.output
    assert "embeddings: log (D = 3)" in res.output
    z = np.load(out)
    assert z["n_clusters"].tolist() == [3] * 5
    np.testing.assert_allclose(z["ari"][1:], 1.0)
    # stored flower labels keep the flower vocabulary: label i is FLOWERS[i]
    assert list(z["label_names"][:3]) == ["rose", "orchid", "tulip"]
    assert set(z["silos"][0].tolist()) == {0, 2, 3}


def test_old_import_path_is_a_deprecated_alias():
    import importlib
    import sys

    from gmmproxy.cli import bridge

    sys.modules.pop("gmmproxy.bridge.cli", None)  # the warning fires on first import only
    with pytest.warns(DeprecationWarning, match="gmmproxy.cli.bridge"):
        old = importlib.import_module("gmmproxy.bridge.cli")
    assert old.silo_report is bridge.silo_report
    assert old.perspective_command is bridge.perspective_command
