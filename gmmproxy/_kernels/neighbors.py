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
    m_eq = 0
    for s in range(cnt):
        v = drow[cand[s]]
        if lo <= v <= hi:
            m_eq += 1
    want = randint(state, m_eq)
    for s in range(cnt):
        v = drow[cand[s]]
        if lo <= v <= hi:
            if want == 0:
                return cand[s]
            want -= 1
    return heap[0]  # not reached


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
# distances) and then run each agent's heap pass over its row. Instead, each
# agent now runs the same heap pass over the other agents in increasing index
# order, but
# - skips a candidate when a cheap lower bound of its distance exceeds the
#   heap's current top (the full pass would have compared it and not inserted it),
# - stops as soon as the top is at distance 0 (nothing later is strictly nearer),
# - computes a distance between two weight rows at most once per round: rows
#   are grouped by content (after a few rounds a population holds a few dozen
#   distinct rows: agents of one silo share theirs bit for bit), identical rows
#   are at distance exactly 0, and the distance of two groups is cached.
# Every distance used is the one the matrix held (same arithmetic, same
# argument order: the lower agent index first), so the heap -- its layout
# included, which decides ``heap[q]`` -- and the partner are bit for bit those
# of the full pass.
#
# The round's scratch lives in the (n, n) distance buffer ``D`` (rows as below)
# and ``gid`` (the candidate buffer): nothing new is allocated.
KEY_MAX = 0  # D[0, a]: largest weight of row a
KEY_SECOND = 1  # D[1, a]: largest weight of the other components
KEY_ARG = 2  # D[2, a]: index of the largest (first on ties), as a float (exact)
KEY_REP = 3  # D[3, g]: the first agent of group g
KEY_TABLE = 4  # D[4:8]: open-addressing hash table of the groups (group + 1; 0 = empty)
KEY_LOW = 8  # D[8, g]: the current agent's distance to the agents of group g below it (few groups)
KEY_UP = 9  # D[9, g]: ... and to those above it
KEY_CACHE = 10  # D[10 + g, h]: distance of a row of group g (lower index) to one of group h; NaN = not yet
# D[KEY_REP, n - 1]: the number of groups G (G <= n - KEY_CACHE)
# fewer agents than this: the matrix (n^2 / 2 distances are cheap, and D is too small for the layout)
PRUNED_MIN_N = 16

# ``nsupp[0]`` after :func:`knn_round_prepare` (>= 0: the rows' sparse forms, as usual)
ROUND_DENSE = -1  # distances of this round are the dense sum
ROUND_MATRIX = -2  # this round filled the whole matrix D (too many distinct rows for the cache)

# a candidate is skipped only when its lower bound exceeds the heap's top by
# this relative margin plus PRUNE_ATOL: far above the rounding of the bound
# (~1e-16, the weights are in [0, 1]) and of a computed distance (~K * 1e-16
# relative), so a skipped candidate's computed distance is certainly above the
# top, and above the random-ties window dk * (1 + TIE_RTOL) as well
PRUNE_RTOL = 1e-9
PRUNE_ATOL = 1e-12


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


@kernel(_nrt=False)
def knn_round_prepare(W, D, supp, nsupp, floor, gid):
    """Per-round preparation of :func:`pick_k_nearest_pruned` for weights ``W`` (n, K); returns the groups.

    Fills the sparse forms (:func:`weight_supports`), the lower-bound keys
    and the groups of identical rows (``gid[a]``, representatives, an empty
    distance cache) in ``D`` as laid out above. When more groups exist than
    the cache holds (or n < ``PRUNED_MIN_N``), fills the whole matrix as
    :func:`weight_distances_sparse` does instead and sets ``nsupp[0] =
    ROUND_MATRIX``. Otherwise ``nsupp[0] = ROUND_DENSE`` when the rows are
    dense on average (early rounds; distances are then the dense sum, as in
    :func:`weight_distances_sparse`).
    """
    n, K = W.shape
    total = weight_supports(W, supp, nsupp, floor)
    dense = 3 * total > n * K
    if n < PRUNED_MIN_N:
        _matrix_round(W, D, supp, nsupp, floor, dense)
        return n
    size = 1
    while size < 2 * n:
        size *= 2
    for t in range(size):
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
    if KEY_CACHE + G > n:
        _matrix_round(W, D, supp, nsupp, floor, dense)
        return G
    D[KEY_REP, n - 1] = G
    for g in range(G):
        for h in range(G):
            D[KEY_CACHE + g, h] = np.nan
    if dense:
        nsupp[0] = ROUND_DENSE
    if 4 * G <= n:
        return G  # pick_k_nearest_pruned reads whole groups' distances, not the keys
    for a in range(n):
        best = W[a, 0]
        arg = 0
        for c in range(1, K):
            if W[a, c] > best:
                best = W[a, c]
                arg = c
        second = 0.0
        for c in range(K):
            if c != arg and W[a, c] > second:
                second = W[a, c]
        D[KEY_MAX, a] = best
        D[KEY_SECOND, a] = second
        D[KEY_ARG, a] = arg
    return G


@kernel(_nrt=False)
def _matrix_round(W, D, supp, nsupp, floor, dense):
    # exactly weight_distances_sparse, the sparse forms being computed already
    n = W.shape[0]
    if dense:
        weight_distances(W, D)
    else:
        for a in range(n):
            D[a, a] = 0.0
            for b in range(a + 1, n):
                v = sparse_distance(W, a, b, supp, nsupp, floor)
                D[a, b] = v
                D[b, a] = v
    nsupp[0] = ROUND_MATRIX


@kernel(inline="always")
def round_pair_distance(W, i, j, supp, nsupp, floor):
    """The distance of rows i and j exactly as :func:`weight_distances_sparse` stores it in ``D[i, j]``.

    After :func:`knn_round_prepare` (``nsupp[0] == ROUND_DENSE``: the dense sum).
    """
    a = i if i < j else j
    b = j if i < j else i
    if nsupp[0] < 0:
        s = 0.0
        for c in range(W.shape[1]):
            diff = W[a, c] - W[b, c]
            s += diff * diff
        return math.sqrt(s)
    return sparse_distance(W, a, b, supp, nsupp, floor)


@kernel(inline="always")
def _prune_threshold(top):
    thr = top * (1.0 + PRUNE_RTOL) + PRUNE_ATOL
    return thr * thr


@kernel(inline="always")
def _cached_distance(W, i, j, D, gid, supp, nsupp, floor):
    # rows of one group are identical: distance exactly 0 (as the sum gives)
    gi = gid[i]
    gj = gid[j]
    if gi == gj:
        return 0.0
    ga = gi if i < j else gj
    gb = gj if i < j else gi
    v = D[KEY_CACHE + ga, gb]
    if v != v:
        v = round_pair_distance(W, i, j, supp, nsupp, floor)
        D[KEY_CACHE + ga, gb] = v
    return v


@kernel(inline="always")
def _content_distance(W, a, b, supp, nsupp, floor):
    # round_pair_distance with a in the lower-index place whatever the indices (the sum
    # depends on the rows' contents and their order only)
    if nsupp[0] < 0:
        s = 0.0
        for c in range(W.shape[1]):
            diff = W[a, c] - W[b, c]
            s += diff * diff
        return math.sqrt(s)
    return sparse_distance(W, a, b, supp, nsupp, floor)


@kernel(_nrt=False)
def _sift_top(heap, k, drow, item, d_item):
    """Put ``item`` (distance ``d_item``) at the top of the max-heap heap[:k] and sift it down.

    The same moves as :func:`_sift_down` from position 0, with the (distance,
    index) comparisons written out: the pruned pass's inner loop.
    """
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= k:
            break
        c = heap[child]
        dc = drow[c]
        if child + 1 < k:
            c2 = heap[child + 1]
            d2 = drow[c2]
            if dc < d2 or (dc == d2 and c < c2):
                child += 1
                c = c2
                dc = d2
        if d_item < dc or (d_item == dc and item < c):
            heap[pos] = c
            pos = child
        else:
            break
    heap[pos] = item


@kernel(_nrt=False)
def _group_rows(i, W, D, gid, supp, nsupp, floor, G):
    # D[KEY_LOW, g], D[KEY_UP, g]: agent i's distance to the rows of group g below and above it
    g_i = gid[i]
    for g in range(G):
        if g == g_i:
            D[KEY_LOW, g] = 0.0
            D[KEY_UP, g] = 0.0
            continue
        rep = np.int64(D[KEY_REP, g])
        v = D[KEY_CACHE + g_i, g]
        if v != v:
            v = _content_distance(W, i, rep, supp, nsupp, floor)
            D[KEY_CACHE + g_i, g] = v
        D[KEY_UP, g] = v
        v = D[KEY_CACHE + g, g_i]
        if v != v:
            v = _content_distance(W, rep, i, supp, nsupp, floor)
            D[KEY_CACHE + g, g_i] = v
        D[KEY_LOW, g] = v


@kernel(_nrt=False)
def pick_k_nearest_pruned(state, i, W, D, gid, supp, nsupp, floor, drow, k, random_ties, heap):
    """Agent i's partner, uniform among its k nearest agents, without the distance matrix.

    The same result, bit for bit and draw for draw, as :func:`pick_k_nearest`
    over all other agents (in increasing order) with ``drow`` read from the
    round's :func:`weight_distances_sparse` matrix; needs ``k < n - 1``,
    ``k <= HEAP_MAX_K`` and :func:`knn_round_prepare` of this round's ``W``
    (not ``ROUND_MATRIX``).

    A candidate j is skipped when a lower bound of its distance exceeds the
    heap's top: with ``a = max_c W[i, c]`` at component ``ci`` and ``s_i``
    the largest other weight of row i (``b``, ``cj``, ``s_j`` for row j), if
    ``cj == ci`` the distance is at least ``|a - b|``; otherwise
    ``W[j, ci] <= s_j`` and ``W[i, cj] <= s_i``, so the components ci and cj
    alone give at least ``sqrt((a - s_j)^2 + (b - s_i)^2)`` (negative parts
    dropped). After a few rounds the weights are nearly one-hot and these
    bounds separate agents of different dominant components.
    """
    n = W.shape[0]
    q = randint(state, k)
    G = np.int64(D[KEY_REP, n - 1])
    if 4 * G <= n:
        # few groups: agent i's distance to each group first (two rows), then one lookup per candidate
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
                _sift_top(heap, k, drow, jj, v)
                top = drow[heap[0]]
            elif random_ties:
                drow[jj] = v
        if not random_ties:
            return heap[q]
        return _random_tie_pick(state, i, n, drow, k, q, heap)
    j = 0
    s = 0
    while s < k:
        if j != i:
            heap[s] = j
            drow[j] = _cached_distance(W, i, j, D, gid, supp, nsupp, floor)
            s += 1
        j += 1
    for pos in range(k // 2 - 1, -1, -1):
        _sift_down(heap, k, drow, pos)
    a_i = D[KEY_MAX, i]
    s_i = D[KEY_SECOND, i]
    c_i = D[KEY_ARG, i]
    g_i = gid[i]
    top = drow[heap[0]]
    thr2 = _prune_threshold(top)
    for jj in range(j, n):
        if jj == i:
            continue
        if top == 0.0 and not random_ties:
            break
        if gid[jj] == g_i:
            v = 0.0
        else:
            b = D[KEY_MAX, jj]
            if D[KEY_ARG, jj] == c_i:
                x = a_i - b
                lb2 = x * x
            else:
                x = a_i - D[KEY_SECOND, jj]
                y = b - s_i
                x = x if x > 0.0 else 0.0
                y = y if y > 0.0 else 0.0
                lb2 = x * x + y * y
            if lb2 > thr2:
                drow[jj] = np.inf
                continue
            v = _cached_distance(W, i, jj, D, gid, supp, nsupp, floor)
        drow[jj] = v
        if v < top:
            heap[0] = jj
            _sift_down(heap, k, drow, 0)
            top = drow[heap[0]]
            thr2 = _prune_threshold(top)
    if not random_ties:
        return heap[q]
    return _random_tie_pick(state, i, n, drow, k, q, heap)


@kernel(_nrt=False)
def _random_tie_pick(state, i, n, drow, k, q, heap):
    # random ties (as pick_k_nearest), heap[:k] holding the k nearest: every other agent
    # has its distance in drow, or +inf when it was skipped (beyond the tie window)
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
    m_eq = 0
    for jj in range(n):
        if jj != i:
            v = drow[jj]
            if lo <= v <= hi:
                m_eq += 1
    want = randint(state, m_eq)
    for jj in range(n):
        if jj != i:
            v = drow[jj]
            if lo <= v <= hi:
                if want == 0:
                    return jj
                want -= 1
    return heap[0]  # not reached
