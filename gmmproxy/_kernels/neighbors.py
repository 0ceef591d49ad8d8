"""Partner choice helpers: weight-space distances and a uniform draw among the k nearest candidates."""
import math

import numpy as np

from gmmproxy._kernels.cache import kernel
from gmmproxy._kernels.rng import randint


@kernel(inline="always")
def weight_distances(W, D):
    """D[a, b] = Euclidean distance between weight rows a and b (symmetric, zero diagonal)."""
    n = W.shape[0]
    K = W.shape[1]
    for a in range(n):
        D[a, a] = 0.0
        for b in range(a + 1, n):
            s = 0.0
            for c in range(K):
                diff = W[a, c] - W[b, c]
                s += diff * diff
            v = math.sqrt(s)
            D[a, b] = v
            D[b, a] = v


@kernel(inline="always")
def distance_row(W, i, out):
    """out[b] = distance between weight rows i and b."""
    n = W.shape[0]
    K = W.shape[1]
    for b in range(n):
        s = 0.0
        for c in range(K):
            diff = W[i, c] - W[b, c]
            s += diff * diff
        out[b] = math.sqrt(s)
    out[i] = 0.0


# the selection helpers below are separate functions, not IR-inlined: inlining
# the comparison at each of its dozen call sites made the kNN variant take 15 s
# to compile; LLVM still inlines it at machine-code level
@kernel(_nrt=False)
def _less(drow, a, b):
    # order by distance, ties by agent index, so the k-nearest set is well defined
    da = drow[a]
    db = drow[b]
    return da < db or (da == db and a < b)


@kernel(_nrt=False)
def select_rank(cand, cnt, drow, q):
    """The element of rank q (0-based) of cand[:cnt] ordered by (drow, index); reorders cand."""
    lo = 0
    hi = cnt - 1
    while True:
        if lo == hi:
            return cand[lo]
        # median-of-three pivot keeps the expected cost linear on sorted input
        mid = (lo + hi) // 2
        a = cand[lo]
        b = cand[mid]
        c = cand[hi]
        if _less(drow, a, b):
            if _less(drow, b, c):
                piv_pos = mid
            elif _less(drow, a, c):
                piv_pos = hi
            else:
                piv_pos = lo
        else:
            if _less(drow, a, c):
                piv_pos = lo
            elif _less(drow, b, c):
                piv_pos = hi
            else:
                piv_pos = mid
        pivot = cand[piv_pos]
        cand[piv_pos] = cand[hi]
        cand[hi] = pivot
        store = lo
        for s in range(lo, hi):
            if _less(drow, cand[s], pivot):
                tmp = cand[s]
                cand[s] = cand[store]
                cand[store] = tmp
                store += 1
        cand[hi] = cand[store]
        cand[store] = pivot
        if q == store:
            return pivot
        elif q < store:
            hi = store - 1
        else:
            lo = store + 1


# relative tolerance of "the same distance" for random tie-breaking: far above
# the few-ulp rounding noise (~1e-15) of a computed distance, far below any
# difference between belief states that the dynamics act on
TIE_RTOL = 1e-12


@kernel(_nrt=False)
def pick_among(state, cand, cnt, drow, k, random_ties):
    """A partner uniform among the k nearest of ``cand[:cnt]`` (all of them when ``k >= cnt``).

    Nearest by ``drow[agent]``; ties at the k-th distance go to the lower
    agent index, or (``random_ties``) to a uniformly random subset of the
    tied agents: the partner is then uniform over the ``m_less`` agents
    nearer than the k-th distance with probability ``m_less / k``, else
    uniform over all ``m_eq`` agents tied with it -- the marginal of
    "uniform over a k-set whose tied part is a uniform random subset".
    With random ties, "tied" means equal to the k-th distance up to a
    relative ``TIE_RTOL`` (rounding: the default initial rows are
    permutations of each other only up to the last bit of their
    normaliser, so their distances differ in the last bits). Reorders
    ``cand[:cnt]``.
    """
    if k >= cnt:
        return cand[randint(state, cnt)]
    q = randint(state, k)
    if not random_ties:
        return select_rank(cand, cnt, drow, q)
    dk = drow[select_rank(cand, cnt, drow, k - 1)]
    lo = dk * (1.0 - TIE_RTOL)
    hi = dk * (1.0 + TIE_RTOL)
    m_less = 0
    m_eq = np.int64(0)  # not the literal 0: randint(state, m_eq) would compile twice
    for s in range(cnt):
        v = drow[cand[s]]
        if v < lo:
            m_less += 1
        elif v <= hi:
            m_eq += 1
    if q < m_less:
        want = q
        strict = True
    else:
        want = randint(state, m_eq)
        strict = False
    for s in range(cnt):
        v = drow[cand[s]]
        if (v < lo) if strict else (lo <= v <= hi):
            if want == 0:
                return cand[s]
            want -= 1
    return cand[0]  # not reached


# k at most this: a bounded heap (one pass, one comparison per candidate in
# the common case) finds the k-nearest set; above it, quickselect
HEAP_MAX_K = 64


@kernel(_nrt=False)
def _sift_down(heap, k, drow, pos):
    """Restore the max-heap order on (drow, index) of heap[:k] below position pos."""
    item = heap[pos]
    while True:
        child = 2 * pos + 1
        if child >= k:
            break
        if child + 1 < k and _less(drow, heap[child], heap[child + 1]):
            child += 1
        if _less(drow, item, heap[child]):
            heap[pos] = heap[child]
            pos = child
        else:
            break
    heap[pos] = item


@kernel(_nrt=False)
def k_nearest_heap(cand, cnt, drow, k, heap):
    """The k nearest of ``cand[:cnt]`` by (distance, index) into ``heap[:k]``, a max-heap (top at 0).

    ``cand`` must list agents in increasing index order: a later candidate
    then beats the current top exactly when its distance is smaller, so
    one comparison rejects almost every candidate once the heap is full.
    """
    for s in range(k):
        heap[s] = cand[s]
    for pos in range(k // 2 - 1, -1, -1):
        _sift_down(heap, k, drow, pos)
    for s in range(k, cnt):
        j = cand[s]
        if drow[j] < drow[heap[0]]:
            heap[0] = j
            _sift_down(heap, k, drow, np.int64(0))  # not the literal 0 (a second compiled copy)


@kernel(_nrt=False)
def pick_with_random_ties(state, q, heap, k, drow, cand, cnt, every_agent, skip):
    """The partner of rank ``q`` among the k nearest ``heap[:k]`` when ties at the k-th distance are random.

    Ranks below the tie band (distances within ``TIE_RTOL`` of the k-th)
    go to the strictly nearer agents in heap order; the others to an agent
    drawn uniformly from the band. Candidates are ``cand[:cnt]``, or, with
    ``every_agent``, the agents ``0 .. len(drow)-1``; ``skip`` is never one
    (-1: none). One helper for :func:`pick_k_nearest` and
    ``knn_groups.pick_k_nearest_grouped``, so both draw the same way.
    """
    dk = drow[heap[0]]
    lo = dk * (1.0 - TIE_RTOL)
    hi = dk * (1.0 + TIE_RTOL)
    m_less = 0
    for s in range(k):
        if drow[heap[s]] < lo:
            m_less += 1
    if q < m_less:
        for s in range(k):
            if drow[heap[s]] < lo:
                if q == 0:
                    return heap[s]
                q -= 1
    m = drow.shape[0] if every_agent else cnt
    m_eq = np.int64(0)  # not the literal 0: randint(state, m_eq) would compile twice
    for s in range(m):
        j = s if every_agent else cand[s]
        if j != skip and lo <= drow[j] <= hi:
            m_eq += 1
    want = randint(state, m_eq)
    for s in range(m):
        j = s if every_agent else cand[s]
        if j != skip and lo <= drow[j] <= hi:
            if want == 0:
                return j
            want -= 1
    return heap[0]  # not reached


@kernel(_nrt=False)
def pick_k_nearest(state, cand, cnt, drow, k, random_ties, heap):
    """A partner uniform among the k nearest of ``cand[:cnt]`` (increasing agent order).

    Same distribution as :func:`pick_among` (which it calls for large k);
    for k <= ``HEAP_MAX_K`` the k-nearest set comes from one heap pass.
    """
    if k >= cnt or k > HEAP_MAX_K:
        return pick_among(state, cand, cnt, drow, k, random_ties)
    q = randint(state, k)
    k_nearest_heap(cand, cnt, drow, k, heap)
    if not random_ties:
        return heap[q]
    # typed arguments, not the literals False and -1: Numba would compile a second copy of the
    # helper specialised on the literals (knn_groups calls it with True and an agent index)
    return pick_with_random_ties(state, q, heap, k, drow, cand, cnt, np.bool_(False), np.int64(-1))


@kernel(inline="always")
def row_support(W, a, supp, nsupp, floor):
    """Sparse form of row a: ``floor[a] = min_c W[a, c]``, the components that differ from it; returns their number."""
    K = W.shape[1]
    f = W[a, 0]
    for c in range(1, K):
        if W[a, c] < f:
            f = W[a, c]
    m = 0
    for c in range(K):
        if W[a, c] != f:
            supp[a, m] = c
            m += 1
    nsupp[a] = m
    floor[a] = f
    return m


@kernel(inline="always")
def weight_supports(W, supp, nsupp, floor):
    """Sparse form of each weight row (:func:`row_support`).

    After a few rounds almost every weight sits at the clip floor, so a row
    is its floor plus 1-6 listed components (``supp[a, :nsupp[a]]``).
    Returns the total number of listed components.
    """
    total = 0
    for a in range(W.shape[0]):
        total += row_support(W, a, supp, nsupp, floor)
    return total


@kernel(inline="always")
def sparse_distance(W, a, b, supp, nsupp, floor):
    """Euclidean distance of weight rows a and b from their sparse forms: O(nsupp[a] + nsupp[b]).

    Exact in real arithmetic: every component outside both supports
    contributes ``(floor[a] - floor[b])**2``; a component of one support
    only is compared with the other row's floor. Identical rows give exactly
    0, and rows that differ only by a permutation of components give equal
    distances to a third row with their support disjoint from it, as the
    dense sum does (ties such as the default start's stay ties).
    """
    K = W.shape[1]
    fa = floor[a]
    fb = floor[b]
    s = 0.0
    both = nsupp[b]
    for t in range(nsupp[b]):
        c = supp[b, t]
        diff = W[a, c] - W[b, c]
        s += diff * diff
    for t in range(nsupp[a]):
        c = supp[a, t]
        if W[b, c] == fb:  # c is not in b's support
            diff = W[a, c] - fb
            s += diff * diff
            both += 1
    df = fa - fb
    s += (K - both) * (df * df)
    return math.sqrt(s)


@kernel(_nrt=False)
def weight_distances_sparse(W, D, supp, nsupp, floor):
    """D[a, b] = distance of weight rows a and b, via :func:`sparse_distance` when the rows are sparse.

    Falls back to the dense sum when the supports cover more than a third
    of the components on average (early rounds), where it is cheaper.
    """
    n, K = W.shape
    total = weight_supports(W, supp, nsupp, floor)
    if 3 * total > n * K:
        weight_distances(W, D)
        return
    for a in range(n):
        D[a, a] = 0.0
        for b in range(a + 1, n):
            v = sparse_distance(W, a, b, supp, nsupp, floor)
            D[a, b] = v
            D[b, a] = v
