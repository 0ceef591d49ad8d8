"""One step of the flower run: ask every agent, label and embed the answers, then update memories.

The random numbers of a step (request seeds and update draws) come from child streams of
the run seed named by the step, as :mod:`gmmproxy.llm.runner` describes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gmmproxy._seeding import as_seed_sequence

from ._flower_inputs import render_prompt
from .backend import BackendError, request_seeds

__all__ = ["nearest_neighbors", "update_draws"]


def nearest_neighbors(embeddings, n_neighbors: int) -> np.ndarray:
    """The ``n_neighbors`` nearest other agents of every agent.

    Parameters
    ----------
    embeddings : array_like, shape (n, D)
    n_neighbors : int
        ``1 <= n_neighbors <= n - 1``.

    Returns
    -------
    ndarray of int, shape (n, n_neighbors)
        Row ``i``: the agents ``j != i`` with the smallest L2 distance to agent ``i``,
        nearest first, ties broken by the smaller index.
    """
    from gmmproxy.topology import k_nearest

    e = np.asarray(embeddings, dtype=np.float64)
    n = e.shape[0]
    D = np.empty((n, n))
    for i in range(n):
        # row by row: identical answers get distance exactly 0 (a Gram-matrix formula
        # would leave rounding noise and make their tie order arbitrary), and memory
        # stays O(n D + n^2) with n agents in the tens
        D[i] = np.sqrt(np.sum((e - e[i]) ** 2, axis=1))
    return k_nearest(D, n_neighbors)


def _step_stream(ss: np.random.SeedSequence, t: int, purpose: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (int(t), purpose))


def update_draws(seed, t: int, n_agents: int, n_neighbors: int):
    """The random numbers of the update after step ``t``.

    Returns
    -------
    u : ndarray of float, shape (n_agents,)
        Agent ``i`` mirrors iff ``u[i] < p_mirror``.
    c : ndarray of int, shape (n_agents,)
        Index into agent ``i``'s sorted neighbour list of its partner.
    """
    rng = np.random.Generator(np.random.PCG64(_step_stream(as_seed_sequence(seed), t, 1)))
    u = rng.random(n_agents)
    c = rng.integers(0, n_neighbors, size=n_agents)
    return u, c


def _step_request_seeds(ss, t, n):
    return request_seeds(_step_stream(ss, t, 0), n)



@dataclass(frozen=True)
class _Plan:
    """Everything a step needs, resolved against defaults or the log's run record."""

    n_steps: int
    p_mirror: float
    n_neighbors: int
    temperature: float
    max_tokens: int
    template: str
    seed: np.random.SeedSequence
    embedder: object
    extractor: Callable
    store_embeddings: bool



def _one_step(t, memories, backend, plan: _Plan, on_request):
    """Records and embeddings of step ``t``, from the memories before it."""
    seeds = _step_request_seeds(plan.seed, t, len(memories))
    texts = _ask(t, memories, seeds, backend, plan, on_request)
    labels = _labels(t, texts, plan.extractor)
    e = _embed(texts, plan.embedder)
    partners, mirrored = _update(t, e, plan)
    records = [{
        "agent": i,
        "partner": int(partners[i]),
        "mirrored": bool(mirrored[i]),
        "text": texts[i],
        "label": labels[i],
        "memory": memories[i],
        "memory_after": texts[partners[i]],
        "seed": seeds[i],
    } for i in range(len(memories))]
    return records, e


def _ask(t, memories, seeds, backend, plan: _Plan, on_request) -> list:
    """Every agent's answer at step ``t``, checked to be ``n`` strings."""
    n = len(memories)
    prompts = [render_prompt(plan.template, m) for m in memories]
    texts = backend.generate(
        prompts, seed=seeds, temperature=plan.temperature, max_tokens=plan.max_tokens,
        keys=[(t, i) for i in range(n)], callback=on_request,
    )
    if not isinstance(texts, list) or len(texts) != n or not all(isinstance(x, str) for x in texts):
        raise BackendError(f"backend {backend.describe().get('kind', '?')} returned "
                           f"{type(texts).__name__} instead of {n} strings at t={t}")
    return texts


def _labels(t, texts, extractor) -> list:
    """The extractor's label of every answer (a str or None)."""
    labels = []
    for i, x in enumerate(texts):
        lab = extractor(x)
        if lab is not None and not isinstance(lab, str):
            raise TypeError(f"extractor must return a str or None; got {lab!r} for agent {i} at t={t}")
        labels.append(lab)
    return labels


def _embed(texts, embedder) -> np.ndarray:
    """Embeddings of the answers, checked to be a finite (n, D) array."""
    n = len(texts)
    e = np.asarray(embedder.embed(list(texts)), dtype=np.float64)
    if e.ndim != 2 or e.shape[0] != n or e.shape[1] < 1 or not np.all(np.isfinite(e)):
        raise ValueError(f"embedder {embedder.name!r} must return a finite (n_agents={n}, D) "
                         f"array; got shape {e.shape}"
                         + ("" if np.all(np.isfinite(e)) else " with NaN/inf"))
    return e


def _update(t, embeddings, plan: _Plan):
    """Partner and mirror flag of every agent in the update after step ``t``."""
    n = embeddings.shape[0]
    nbrs = nearest_neighbors(embeddings, plan.n_neighbors)
    u, c = update_draws(plan.seed, t, n, plan.n_neighbors)
    mirrored = u < plan.p_mirror
    partners = np.where(mirrored, np.arange(n), nbrs[np.arange(n), c])
    return partners, mirrored

