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
    m_eq = 0
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
            _sift_down(heap, k, drow, 0)


@kernel(_nrt=False)
def pick_with_random_ties(state, q, heap, k, drow, cand, cnt, every_agent, skip):
    """The partner of rank ``q`` among the k nearest ``heap[:k]`` when ties at the k-th distance are random.

    Ranks below the tie band (distances within ``TIE_RTOL`` of the k-th)
    go to the strictly nearer agents in heap order; the others to an agent
    drawn uniformly from the band. Candidates are ``cand[:cnt]``, or, with
    ``every_agent``, the agents ``0 .. len(drow)-1``; ``skip`` is never one
    (-1: none). One helper for :func:`pick_k_nearest` and
    :func:`pick_k_nearest_grouped`, so both draw the same way.
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
    m_eq = 0
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
    return pick_with_random_ties(state, q, heap, k, drow, cand, cnt, False, -1)


@kernel(inline="always")
def weight_supports(W, supp, nsupp, floor):
    """Sparse form of each weight row: ``floor[a] = min_c W[a, c]`` and the components that differ from it.

    After a few rounds almost every weight sits at the clip floor, so a row
    is its floor plus 1-6 listed components (``supp[a, :nsupp[a]]``).
    Returns the total number of listed components.
    """
    n, K = W.shape
    total = 0
    for a in range(n):
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
        total += m
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


# --- synchronous kNN rounds without the distance matrix ---------------------
#
# A synchronous round used to fill the whole n x n distance matrix (n^2 / 2
# distances) and then run each agent's heap pass over its row. After a few
# rounds, though, a population holds only a few dozen distinct weight rows
# (agents of one silo share theirs bit for bit). So the round now groups the
# rows by content, and each agent
# - looks up its distance to each group (computed once per round and ordered
#   pair of groups: the distance depends on the two rows and on which of them
#   comes first in the sum, the lower agent index),
# - runs the same heap pass over the other agents in increasing index order,
#   one table look-up per candidate, and stops as soon as the heap's top is
#   at distance 0 (nothing later is strictly nearer).
# Every distance used is the one the matrix held (same arithmetic, same
# argument order), so the heap -- its layout included, which decides
# ``heap[q]`` -- and the partner are bit for bit those of the full pass.
# With many distinct rows (early rounds) the round fills the matrix as before.
#
# The round's scratch lives in the (n, n) distance buffer ``D`` (rows as below)
# and ``gid`` (the candidate buffer): nothing new is allocated.
KEY_REP = 0  # D[0, g]: the first agent of group g; D[0, n - 1]: the number of groups G
KEY_TABLE = 1  # D[1:5]: open-addressing hash table of the groups (group + 1; 0 = empty)
KEY_LOW = 5  # D[5, g]: the current agent's distance to the agents of group g below it
KEY_UP = 6  # D[6, g]: ... and to those above it
KEY_CACHE = 7  # D[7 + g, h]: distance of a row of group g (lower index) to one of group h; NaN = not yet
# fewer agents than this: the matrix (n^2 / 2 distances are cheap, and D is too small for the layout)
PRUNED_MIN_N = 16

# ``nsupp[0]`` after :func:`knn_round_prepare` (>= 0: the rows' sparse forms, as usual)
ROUND_DENSE = -1  # distances of this round are the dense sum
ROUND_MATRIX = -2  # this round filled the whole matrix D (too many distinct rows)


@kernel(inline="always")
def _row_hash(W, a, supp, nsupp, floor):
    # any function of the row's content; equal hashes are confirmed by _same_row
    h = np.int64(nsupp[a]) * 1000003 + np.int64(floor[a] * 4503599627370496.0)
    for t in range(nsupp[a]):
        c = supp[a, t]
        h = (h * 1000003) ^ c
        h = (h * 1000003) ^ np.int64(W[a, c] * 4503599627370496.0)
    return h ^ (h >> 29)


@kernel(inline="always")
def _same_row(W, a, b, supp, nsupp, floor):
    # the sparse form determines the row (floor = min, support = the other components in order)
    if floor[a] != floor[b] or nsupp[a] != nsupp[b]:
        return False
    for t in range(nsupp[a]):
        c = supp[a, t]
        if supp[b, t] != c or W[a, c] != W[b, c]:
            return False
    return True


@kernel(inline="always")
def few_groups(G, n):
    """True when a round with G distinct rows among n agents is cheaper by groups than by the matrix.

    By groups a round computes at most G^2 distances (both orders of each
    pair) against the matrix's n^2 / 2, and the table must fit in ``D``.
    """
    return n >= PRUNED_MIN_N and 2 * G * G <= n * n and KEY_CACHE + G < n


@kernel(_nrt=False)
def knn_round_prepare(W, D, supp, nsupp, floor, gid):
    """Per-round preparation of :func:`pick_k_nearest_grouped` for weights ``W`` (n, K); returns the groups.

    Fills the sparse forms (:func:`weight_supports`), the groups of identical
    rows (``gid[a]``, representatives, an empty distance cache) in ``D`` as
    laid out above, and sets ``nsupp[0] = ROUND_DENSE`` when the rows are
    dense on average (early rounds; distances are then the dense sum, as in
    :func:`weight_distances_sparse`). With too many groups
    (:func:`few_groups`) it fills the whole matrix as
    :func:`weight_distances_sparse` does instead and sets ``nsupp[0] =
    ROUND_MATRIX``.
    """
    n, K = W.shape
    total = weight_supports(W, supp, nsupp, floor)
    if n < PRUNED_MIN_N:
        _matrix_round(W, D, supp, nsupp, floor)
        return n
    size = 1
    while size < 2 * n:
        size *= 2
    for t in range(size):  # size < 4 n: rows KEY_TABLE .. KEY_TABLE + 3
        D[KEY_TABLE + t // n, t % n] = 0.0
    G = 0
    for a in range(n):
        t = _row_hash(W, a, supp, nsupp, floor) & (size - 1)
        while True:
            e = D[KEY_TABLE + t // n, t % n]
            if e == 0.0:
                D[KEY_TABLE + t // n, t % n] = G + 1
                D[KEY_REP, G] = a
                gid[a] = G
                G += 1
                break
            g = np.int64(e) - 1
            if _same_row(W, a, np.int64(D[KEY_REP, g]), supp, nsupp, floor):
                gid[a] = g
                break
            t = (t + 1) & (size - 1)
    if not few_groups(G, n):
        _matrix_round(W, D, supp, nsupp, floor)
        return G
    D[KEY_REP, n - 1] = G
    for g in range(G):
        for h in range(G):
            D[KEY_CACHE + g, h] = np.nan
    if 3 * total > n * K:
        nsupp[0] = ROUND_DENSE
    return G


@kernel(inline="always")
def _matrix_round(W, D, supp, nsupp, floor):
    # the whole matrix, as before (recomputing the sparse forms costs O(n K) next to the n^2 / 2
    # distances, and keeps one compiled copy of the distance loops)
    weight_distances_sparse(W, D, supp, nsupp, floor)
    nsupp[0] = ROUND_MATRIX


@kernel(inline="always")
def _content_distance(W, a, b, supp, nsupp, floor):
    """The distance of rows a and b as the round's matrix holds it for a below b, whatever the indices.

    The sum depends on the rows' contents and on their order in the call
    only: the dense sum after :func:`knn_round_prepare` set ``ROUND_DENSE``,
    else :func:`sparse_distance`.
    """
    if nsupp[0] < 0:
        s = 0.0
        for c in range(W.shape[1]):
            diff = W[a, c] - W[b, c]
            s += diff * diff
        return math.sqrt(s)
    return sparse_distance(W, a, b, supp, nsupp, floor)


@kernel(inline="always")
def _group_rows(i, W, D, gid, supp, nsupp, floor, G):
    # D[KEY_LOW, g], D[KEY_UP, g]: agent i's distance to the rows of group g below and above it
    g_i = gid[i]
    for g in range(G):
        if g == g_i:
            # identical rows: exactly 0, as the sum gives
            D[KEY_LOW, g] = 0.0
            D[KEY_UP, g] = 0.0
            continue
        rep = np.int64(D[KEY_REP, g])
        for below in range(2):
            # below = 0: agents of g above i (i's row first in the sum), 1: below i
            a = rep if below else i
            b = i if below else rep
            ga = gid[a]
            gb = gid[b]
            v = D[KEY_CACHE + ga, gb]
            if v != v:
                v = _content_distance(W, a, b, supp, nsupp, floor)
                D[KEY_CACHE + ga, gb] = v
            D[KEY_LOW if below else KEY_UP, g] = v


@kernel(_nrt=False)
def pick_k_nearest_grouped(state, i, W, D, gid, supp, nsupp, floor, drow, k, random_ties, heap):
    """Agent i's partner, uniform among its k nearest agents, without the distance matrix.

    The same result, bit for bit and draw for draw, as :func:`pick_k_nearest`
    over all other agents (in increasing order) with ``drow`` read from the
    round's :func:`weight_distances_sparse` matrix. Needs ``k < n - 1``,
    ``k <= HEAP_MAX_K`` and :func:`knn_round_prepare` of this round's ``W``
    (not ``ROUND_MATRIX``).
    """
    n = W.shape[0]
    q = randint(state, k)
    G = np.int64(D[KEY_REP, n - 1])
    _group_rows(i, W, D, gid, supp, nsupp, floor, G)
    j = 0
    s = 0
    while s < k:
        if j != i:
            heap[s] = j
            drow[j] = D[KEY_LOW if j < i else KEY_UP, gid[j]]
            s += 1
        j += 1
    for pos in range(k // 2 - 1, -1, -1):
        _sift_down(heap, k, drow, pos)
    top = drow[heap[0]]
    for jj in range(j, n):
        if top == 0.0 and not random_ties:
            break
        if jj == i:
            continue
        v = D[KEY_LOW if jj < i else KEY_UP, gid[jj]]
        if v < top:
            drow[jj] = v
            heap[0] = jj
            _sift_down(heap, k, drow, 0)
            top = drow[heap[0]]
        elif random_ties:
            drow[jj] = v
    if not random_ties:
        return heap[q]
    # random ties: every other agent has its distance in drow
    return pick_with_random_ties(state, q, heap, k, drow, heap, n, True, i)
