"""Partner choice: mirroring, k nearest agents in weight space, communication graphs."""
import math

from numba import njit

from gmmproxy._kernels.rng import randint, uniform


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def _less(drow, a, b):
    # order by distance, ties by agent index, so the k-nearest set is well defined
    da = drow[a]
    db = drow[b]
    return da < db or (da == db and a < b)


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def choose_partner(state, i, n, p, k, drow, use_graph, graph, gidx, cand):
    """Partner of agent i: itself with probability p, else uniform among its k nearest allowed agents.

    ``graph[gidx, i]`` (n,) is agent i's row of the communication graph in
    this round (read only when ``use_graph``; indexed in place, not sliced,
    to spare Numba's reference counting); ``drow`` its distance row (read
    only when a restriction applies); ``cand`` is int scratch of length n.
    An agent with no allowed partner talks to itself.
    """
    if uniform(state) < p:
        return i
    if not use_graph and k >= n - 1:
        j = randint(state, n - 1)
        return j + 1 if j >= i else j
    cnt = 0
    for j in range(n):
        if j != i and (not use_graph or graph[gidx, i, j]):
            cand[cnt] = j
            cnt += 1
    if cnt == 0:
        return i
    if k >= cnt:
        return cand[randint(state, cnt)]
    q = randint(state, k)
    return select_rank(cand, cnt, drow, q)


@njit(cache=True, inline="always")
def round_setup(t, W, kvec, graph, use_graph, sequential, D):
    """Per-round neighbourhood settings: (graph index, k, whether distances are needed).

    Synchronous rounds compute the whole distance matrix once, from the
    previous round's weights.
    """
    n = W.shape[0]
    gidx = t if graph.shape[0] > 1 else 0
    k = kvec[t] if kvec.shape[0] > 1 else kvec[0]
    need_dist = use_graph or k < n - 1
    if need_dist and not sequential:
        weight_distances(W, D)
    return gidx, k, need_dist


@njit(cache=True, inline="always")
def partner_of(state, i, W, D, drow, cand, need_dist, sequential, p, k, use_graph, graph, gidx):
    """Partner of agent i in the current round (sequential rounds see the freshest weights)."""
    n = W.shape[0]
    if need_dist:
        if sequential:
            distance_row(W, i, drow)
        else:
            for b in range(n):
                drow[b] = D[i, b]
    return choose_partner(state, i, n, p, k, drow, use_graph, graph, gidx, cand)
