"""The named structures the rounds of Algorithms 1 and 2 work on, and their allocation.

Each is a ``namedtuple`` of arrays and scalars. Numba passes them by value
as plain structs (no reference counting in the ``_nrt=False`` rounds, as
pynndescent passes its heaps), so a kernel takes a handful of named
arguments instead of fifty positional buffers, and a synchronous round swaps
the whole population state as one unit (``pop, nxt = nxt, pop``). All arrays
are allocated here, in Python, once per block of replicates: the kernels
allocate nothing.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

#: The shared mixture (read only). ``mu1``, ``inv_sd``, ``log_sd``: means and
#: 1/sd, log sd of one-dimensional components; ``inv_spacing > 0`` declares
#: the 1-d means an even grid; ``cutoff``: relative log-density below which a
#: scaled density is stored as 0 (``gmm.density_cutoff``).
Mixture = namedtuple("Mixture", "mu chol half_logdet mu1 inv_sd log_sd inv_spacing cutoff eps")

#: Who may talk to whom, and how a round runs. ``kvec``: k per round (length 1
#: for a fixed k); ``graph`` (G, n, n) bool, dense graphs; ``indptr`` (G, n+1),
#: ``indices`` (G, nnz): sparse graphs in CSR form (round t uses graph t, or
#: graph 0 when G == 1); ``random_ties``: ties at the k-th distance broken
#: uniformly at random instead of by agent index. ``min_var``,
#: ``volume_preserving``, ``logdet_ref``: Algorithm 2 only.
Rules = namedtuple("Rules", "p kvec sequential fifo random_ties graph indptr indices min_var volume_preserving "
                            "logdet_ref")

#: Where a replicate starts: initial weights, initial RAG (or ``sample_rag``:
#: draw it from each agent's mixture).
Start = namedtuple("Start", "W0 R0 sample_rag")

#: State of one replicate of Algorithm 1: weights ``W`` (n, K), RAG points
#: ``R`` (n, r, d), cached scaled densities ``DN`` (n, r, K) of every RAG
#: point, valid on the band ``BL <= c < BH`` (n, r), with underflow log-scales
#: ``BS`` (n, r) (see ``em.em_weights``), FIFO pointers ``ptr`` (n,).
Population = namedtuple("Population", "W R DN BL BH BS ptr")

#: State of one replicate of Algorithm 2: weights, RAG, each agent's Cholesky
#: factors ``CH`` (n, K, d, d) and half log-determinants ``HL`` (n, K), FIFO
#: pointers.
CovPopulation = namedtuple("CovPopulation", "W R CH HL ptr")

#: Per-update scratch of Algorithm 1. ``D`` (n, n): the round's distance
#: matrix (synchronous kNN); ``drow`` (n,): one agent's distances; ``heap``,
#: ``cand`` (n,) int: the k-nearest heap and the candidates; ``x``, ``y`` (d,): query
#: and answer; ``dx``, ``dy`` (K,): their scaled densities; ``WB`` (2, K):
#: row 0 the partner's pseudo-update, row 1 the agent's update; ``logd`` (K,),
#: ``work`` (d,); ``supp`` (n, K) int and ``nsupp``, ``floor`` (n,): the sparse
#: form of the weight rows used by the kNN distances (``neighbors.py``). In a
#: grouped kNN round (``knn_groups.knn_round_prepare``) ``D`` and ``cand`` hold
#: the table of distinct rows and their pair distances instead of the n x n
#: matrix, and ``nsupp[0]`` carries the round kind (``ROUND_DENSE``,
#: ``ROUND_MATRIX``).
Scratch = namedtuple("Scratch", "D drow heap cand x y dx dy WB logd work supp nsupp floor grp")

#: Extra per-update scratch of Algorithm 2: the partner's pseudo-updated
#: weights ``wj`` (1, K) and factors ``chj``, ``hlj``; the agent's ``wi``,
#: ``chi``, ``hli``; EM work arrays ``prior`` (K,), ``gam`` (r, K), ``dens`` (K,),
#: ``S`` (d, d).
CovScratch = namedtuple("CovScratch", "wj chj hlj wi chi hli prior gam dens S")

#: Outputs of a block of replicates (leading axis: replicate). ``mode``: 0
#: weights (and silos), 1 silos, 2 metrics only; arrays not recorded have
#: length-1 axes. ``prev``, ``cur`` (n,), ``seen`` (K,): scratch of the silo count.
Records = namedtuple("Records", "mode weights silos covs n_silos n_switched final_silos final_rag prev cur seen")


def new_population(n: int, K: int, r: int, d: int) -> Population:
    return Population(np.empty((n, K)), np.empty((n, r, d)), np.zeros((n, r, K)),
                      np.zeros((n, r), np.int64), np.zeros((n, r), np.int64), np.zeros((n, r)),
                      np.zeros(n, np.int64))


def new_cov_population(n: int, K: int, r: int, d: int) -> CovPopulation:
    return CovPopulation(np.empty((n, K)), np.empty((n, r, d)), np.zeros((n, K, d, d)), np.zeros((n, K)),
                         np.zeros(n, np.int64))


def new_scratch(n: int, K: int, d: int, knn: bool) -> Scratch:
    m = n if knn else 1
    return Scratch(np.zeros((m, m)), np.zeros(n), np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(d),
                   np.zeros(d),
                   np.zeros(K), np.zeros(K), np.zeros((2, K)), np.zeros(K), np.zeros(d),
                   np.zeros((m, K), np.int64), np.zeros(m, np.int64), np.zeros(m),
                   np.zeros(4 * n + 1 if knn else 1, np.int64))


def new_cov_scratch(K: int, r: int, d: int) -> CovScratch:
    return CovScratch(np.zeros((1, K)), np.zeros((K, d, d)), np.zeros(K), np.zeros(K), np.zeros((K, d, d)),
                      np.zeros(K), np.zeros(K), np.zeros((r, K)), np.zeros(K), np.zeros((d, d)))


def new_record_scratch(n: int, K: int):
    return np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(K, np.int64)
