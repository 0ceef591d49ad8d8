"""Silo metrics: pure functions of silo-label arrays.

Every function takes ``silos``, an integer array of shape ``(..., T+1, n)``:
time on the second-to-last axis, agents on the last, any number of leading
(replicate) axes. Labels are non-negative integers -- the winning mixture
component of a proxy agent, or the flower an LLM agent named -- so the same
functions serve simulations and LLM logs.

Conventions (spec Section 5):

* ``stability(t)`` is the fraction of agents whose silo is unchanged from
  ``t-1`` (McGuinness et al.; 1 = fully stable); ``switch_rate`` is its
  complement, the GMM paper's S(t). Both are undefined at ``t = 0`` and hold
  NaN there, so every per-step output is aligned with ``silos``' time axis.
* ``time_to_single_silo`` is the smallest ``t0`` with one silo at every
  ``t >= t0`` up to the horizon, or :data:`NEVER` (-1) when the run does not
  end in a single silo. (The authors' code reports ``t0 - 1`` and returns T
  on non-convergence; we do neither.)
"""
from __future__ import annotations

import numpy as np

NEVER = -1
"""Returned by :func:`time_to_single_silo` when a run never settles into one silo."""

REGIME_UNDEFINED = -1
REGIME_DECAYING = 0
REGIME_STABLE = 1
REGIME_UNSTABLE = 2
REGIME_NAMES = {
    REGIME_UNDEFINED: "undefined",
    REGIME_DECAYING: "decaying",
    REGIME_STABLE: "stable",
    REGIME_UNSTABLE: "unstable",
}

__all__ = [
    "NEVER",
    "REGIME_DECAYING",
    "REGIME_NAMES",
    "REGIME_STABLE",
    "REGIME_UNDEFINED",
    "REGIME_UNSTABLE",
    "entropy",
    "n_silos",
    "polarization_event",
    "silo_ids",
    "silo_regimes",
    "silo_sizes",
    "stability",
    "summarize",
    "switch_rate",
    "time_to_single_silo",
    "time_to_single_silo_from_counts",
]


def _check_silos(silos, name: str = "silos") -> np.ndarray:
    arr = np.asarray(silos)
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have shape (..., T+1, n_agents) with at least 2 dimensions; "
            f"got shape {arr.shape}"
        )
    if arr.shape[-1] < 1 or arr.shape[-2] < 1:
        raise ValueError(f"{name} must have at least one step and one agent; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer silo labels; got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} labels must be >= 0; got minimum {int(arr.min())}")
    return arr


def silo_ids(weights) -> np.ndarray:
    """Silo of each agent: the index of its largest weight (ties to the smaller index).

    Parameters
    ----------
    weights : array_like, shape (..., K)
        Mixing weights; the last axis runs over components.

    Returns
    -------
    numpy.ndarray of int, shape (...)
    """
    w = np.asarray(weights)
    if w.ndim < 1 or w.shape[-1] < 1:
        raise ValueError(f"weights must have a non-empty last (component) axis; got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite; got NaN or inf")
    return np.argmax(w, axis=-1)


def _sorted_rows(silos: np.ndarray) -> np.ndarray:
    return np.sort(silos, axis=-1)


def n_silos(silos) -> np.ndarray:
    """Number of distinct silos at each step, N(t).

    Returns
    -------
    numpy.ndarray of int, shape (..., T+1)
    """
    s = _sorted_rows(_check_silos(silos))
    return 1 + np.count_nonzero(np.diff(s, axis=-1), axis=-1)


def silo_sizes(silos, n_labels: int | None = None) -> np.ndarray:
    """Number of agents in each silo at each step.

    Parameters
    ----------
    silos : array_like of int, shape (..., T+1, n)
    n_labels : int, optional
        Length of the label axis; default ``max label + 1``.

    Returns
    -------
    numpy.ndarray of int, shape (..., T+1, n_labels)
        ``sizes[..., t, c]`` agents with label ``c`` at step ``t``; sums to n over ``c``.
    """
    s = _check_silos(silos)
    top = int(s.max()) + 1 if s.size else 0
    if n_labels is None:
        n_labels = top
    elif n_labels < top:
        raise ValueError(f"n_labels must be > the largest label ({top - 1}); got {n_labels}")
    flat = s.reshape(-1, s.shape[-1])
    offsets = (np.arange(flat.shape[0]) * n_labels)[:, None]
    counts = np.bincount((flat + offsets).ravel(), minlength=flat.shape[0] * n_labels)
    return counts.reshape(s.shape[:-1] + (n_labels,))


def stability(silos) -> np.ndarray:
    """Fraction of agents whose silo is unchanged from the previous step.

    Returns
    -------
    numpy.ndarray of float, shape (..., T+1)
        NaN at ``t = 0`` (no previous step).
    """
    s = _check_silos(silos)
    out = np.full(s.shape[:-1], np.nan)
    if s.shape[-2] > 1:
        out[..., 1:] = np.mean(s[..., 1:, :] == s[..., :-1, :], axis=-1)
    return out


def switch_rate(silos) -> np.ndarray:
    """Fraction of agents whose silo changed since the previous step (the GMM paper's S(t)).

    ``1 - stability(silos)``; NaN at ``t = 0``.
    """
    return 1.0 - stability(silos)


def entropy(silos) -> np.ndarray:
    """Shannon entropy (bits) of the silo-membership distribution at each step.

    ``H(t) = -sum_c (n_c/n) log2(n_c/n)``: 0 for a single silo, ``log2(n)``
    when every agent is in its own silo.
    """
    s = _check_silos(silos)
    sizes = silo_sizes(s).astype(float)
    p = sizes / s.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=-1)


def time_to_single_silo(silos) -> np.ndarray:
    """First step from which every agent stays in one common silo.

    ``t* = min{t : N(t') = 1 for all t <= t' <= T}``. Agents need not stay in
    the *same* silo over time, only share one at each step.

    Returns
    -------
    numpy.ndarray of int, shape (...)
        :data:`NEVER` (-1) where ``N(T) > 1``.
    """
    return time_to_single_silo_from_counts(n_silos(silos))


def time_to_single_silo_from_counts(counts) -> np.ndarray:
    """:func:`time_to_single_silo` from the number of silos per step, shape (..., T+1).

    For runs recorded in metrics-only mode, which keep N(t) but not the labels.
    """
    ns = np.asarray(counts)
    if ns.ndim < 1 or ns.shape[-1] < 1:
        raise ValueError(f"counts must have a non-empty last (time) axis; got shape {ns.shape}")
    single = ns == 1
    # index of the last step with more than one silo, via the reversed array
    rev = single[..., ::-1]
    n_tail = np.where(rev.all(axis=-1), rev.shape[-1], np.argmin(rev, axis=-1))
    t_star = ns.shape[-1] - n_tail
    return np.where(single[..., -1], t_star, NEVER).astype(np.int64)


def silo_regimes(silos, window: int) -> np.ndarray:
    """Classify each step by the silo regime over the following window (Definition 2).

    For a window length ``L = window`` the regime at ``t`` looks at
    ``t' in {t, ..., t+L}`` (``t >= 1``, since the switch rate at 0 is undefined):

    * :data:`REGIME_STABLE` -- no agent switches silo and N(t') is constant;
    * :data:`REGIME_UNSTABLE` -- N(t') is constant but some agent switches
      (agents move among a fixed number of silos);
    * :data:`REGIME_DECAYING` -- N(t') changes in the window;
    * :data:`REGIME_UNDEFINED` -- ``t = 0`` or the window runs past the horizon.

    Returns
    -------
    numpy.ndarray of int, shape (..., T+1)
    """
    s = _check_silos(silos)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
        raise ValueError(f"window must be an integer >= 0; got {window!r}")
    n_steps = s.shape[-2]
    out = np.full(s.shape[:-1], REGIME_UNDEFINED, dtype=np.int64)
    last_start = n_steps - 1 - window
    if last_start < 1:
        return out
    ns = n_silos(s)
    changed = np.zeros(s.shape[:-1], dtype=bool)
    changed[..., 1:] = np.any(s[..., 1:, :] != s[..., :-1, :], axis=-1)
    for t in range(1, last_start + 1):
        seg_n = ns[..., t : t + window + 1]
        constant = np.all(seg_n == seg_n[..., :1], axis=-1)
        any_switch = np.any(changed[..., t : t + window + 1], axis=-1)
        out[..., t] = np.where(
            constant, np.where(any_switch, REGIME_UNSTABLE, REGIME_STABLE), REGIME_DECAYING
        )
    return out


def summarize(silos) -> dict:
    """The summary statistics the CLI prints for one run.

    Returns
    -------
    dict
        ``n_silos_final``, ``time_to_single_silo`` (int or None when never),
        ``mean_switch_rate`` (over t >= 1), ``final_switch_rate``,
        ``final_entropy_bits``, ``largest_silo_final`` and ``n_steps``.
    """
    s = _check_silos(silos)
    if s.ndim != 2:
        raise ValueError(f"summarize takes one run of shape (T+1, n); got shape {s.shape}")
    ns = n_silos(s)
    sw = switch_rate(s)
    t_star = int(time_to_single_silo(s))
    sizes = silo_sizes(s)[-1]
    return {
        "n_steps": int(s.shape[0] - 1),
        "n_agents": int(s.shape[1]),
        "n_silos_final": int(ns[-1]),
        "time_to_single_silo": None if t_star == NEVER else t_star,
        "mean_switch_rate": float(np.nanmean(sw[1:])) if s.shape[0] > 1 else 0.0,
        "final_switch_rate": float(sw[-1]) if s.shape[0] > 1 else 0.0,
        "final_entropy_bits": float(entropy(s)[-1]),
        "largest_silo_final": int(sizes.max()),
    }


def polarization_event(weights_plus, rag, sigma, level):
    """Level-``level`` polarization event E_l of a two-component chain state (spec 6.3).

    Re-exported from :mod:`gmmproxy.polarization`, where it is documented.
    """
    from gmmproxy.polarization import polarization_event as _event

    return _event(weights_plus, rag, sigma, level)
