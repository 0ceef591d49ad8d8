"""Synchronous kNN rounds without the n x n distance matrix: weight rows grouped by content.

A synchronous round used to fill the whole n x n distance matrix (n^2 / 2
distances) and then run each agent's heap pass over its row. After a few
rounds, though, a population holds only a few dozen distinct weight rows
(agents of one silo share theirs bit for bit). So the round now groups the
rows by content, and each agent
- looks up its distance to each group (computed once per round and ordered
  pair of groups: the distance depends on the two rows and on which of them
  comes first in the sum, the lower agent index),
- runs the same heap pass over the other agents in increasing index order,
  one table look-up per candidate, and stops as soon as the heap's top is
  at distance 0 (nothing later is strictly nearer).
Every distance used is the one the matrix held (same arithmetic, same
argument order), so the heap -- its layout included, which decides
``heap[q]`` -- and the partner are bit for bit those of the full pass.
With many distinct rows (early rounds) the round fills the matrix as before.

The round's scratch lives in the (n, n) distance buffer ``D`` (rows as below)
and ``gid`` (the candidate buffer); the own-group picks (end of this file) use
``Scratch.grp``.
"""
import math

import numpy as np

from gmmproxy._kernels.cache import kernel
from gmmproxy._kernels.neighbors import (
    _sift_down,
    pick_with_random_ties,
    row_support,
    sparse_distance,
    weight_distances_sparse,
)
from gmmproxy._kernels.rng import randint

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


# odd 64-bit multiplier of the row hash (2^64 / golden ratio)
_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


@kernel(inline="always")
def _row_hash(Wbits, a):
    """A hash of dense row a from the bits of its entries (``Wbits``: ``W`` viewed as uint64).

    Any function of the row's content will do (equal hashes are confirmed
    by :func:`_same_row`); this one is a sum, in wrapping integer
    arithmetic, of each entry's bits xor a key of its position (so that
    rows that are permutations of each other differ), which, unlike a float
    reduction, LLVM vectorises; one multiplication then mixes the high bits
    down. Rows of equal doubles have equal bits (the entries are clipped
    weights: no zeros, no NaNs; an odd row only costs a comparison).
    """
    K = Wbits.shape[1]
    h = np.uint64(0)
    for c in range(K):
        h += Wbits[a, c] ^ (np.uint64(c) * _HASH_MULT)
    h *= _HASH_MULT
    return h ^ (h >> np.uint64(29))


@kernel(inline="always")
def _same_row(W, a, b):
    """Whether rows a and b of W are equal entry by entry (branch-free, vectorised)."""
    diff = 0
    for c in range(W.shape[1]):
        diff += W[a, c] != W[b, c]
    return diff == 0


@kernel(inline="always")
def few_groups(G, n):
    """True when a round with G distinct rows among n agents is cheaper by groups than by the matrix.

    By groups a round computes at most G^2 distances (both orders of each
    pair) against the matrix's n^2 / 2, and the table must fit in ``D``.
    """
    return n >= PRUNED_MIN_N and 2 * G * G <= n * n and KEY_CACHE + G < n


@kernel(_nrt=False)
def knn_round_prepare(W, D, supp, nsupp, floor, gid, grp, k, random_ties):
    """Per-round preparation of :func:`pick_k_nearest_grouped` and :func:`own_group_partner` for weights ``W`` (n, K).

    Returns the number of groups.

    Fills the groups of identical rows (``gid[a]``, representatives, an
    empty distance cache) in ``D`` as laid out above and the sparse form of
    each group's representative (only those are read: the distances of a
    row are those of its representative), and sets ``nsupp[0] =
    ROUND_DENSE`` when the rows are dense on average (early rounds;
    distances are then the dense sum, as in
    :func:`weight_distances_sparse`). With too many groups
    (:func:`few_groups`) it fills the whole matrix as
    :func:`weight_distances_sparse` does instead (every sparse form) and
    sets ``nsupp[0] = ROUND_MATRIX``. Then the own-group table ``grp`` for
    neighbourhoods of ``k`` (:func:`_own_group_table`). One compiled
    function for the whole preparation (a second one cost the kNN variant's
    first compile about half a second).
    """
    n, K = W.shape
    if n < PRUNED_MIN_N:
        _matrix_round(W, D, supp, nsupp, floor)
        _no_own_group(grp, n)
        return n
    size = 1
    while size < 2 * n:
        size *= 2
    # rows KEY_TABLE .. KEY_TABLE + 3 of D as one flat table (size < 4 n; no divisions by n)
    table = D.reshape(n * n)
    t0 = KEY_TABLE * n
    for t in range(size):
        table[t0 + t] = 0.0
    Wbits = W.view(np.uint64)
    G = 0
    for a in range(n):
        t = np.int64(_row_hash(Wbits, a) & np.uint64(size - 1))
        while True:
            e = table[t0 + t]
            if e == 0.0:
                table[t0 + t] = G + 1
                D[KEY_REP, G] = a
                gid[a] = G
                G += 1
                break
            g = np.int64(e) - 1
            if _same_row(W, a, np.int64(D[KEY_REP, g])):
                gid[a] = g
                break
            t = (t + 1) & (size - 1)
    if not few_groups(G, n):
        _matrix_round(W, D, supp, nsupp, floor)
        _no_own_group(grp, n)
        return G
    D[KEY_REP, n - 1] = G
    for g in range(G):
        for h in range(G):
            D[KEY_CACHE + g, h] = np.nan
    # the listed components of all n rows, as weight_supports counts them: each row has its
    # representative's sparse form
    total = 0
    for a in range(n):
        g = gid[a]
        if np.int64(D[KEY_REP, g]) == a:
            row_support(W, a, supp, nsupp, floor)
        total += nsupp[np.int64(D[KEY_REP, g])]
    if 3 * total > n * K:
        nsupp[0] = ROUND_DENSE
    _own_group_table(D, floor, gid, grp, G, n, k, random_ties)
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
    # D[KEY_LOW, g], D[KEY_UP, g]: agent i's distance to the rows of group g below and above it.
    # Only the representatives' sparse forms are filled: i's row is that of its representative
    g_i = gid[i]
    rep_i = np.int64(D[KEY_REP, g_i])
    for g in range(G):
        if g == g_i:
            # identical rows: exactly 0, as the sum gives
            D[KEY_LOW, g] = 0.0
            D[KEY_UP, g] = 0.0
            continue
        rep = np.int64(D[KEY_REP, g])
        for below in range(2):
            # below = 0: agents of g above i (i's row first in the sum), 1: below i
            a = rep if below else rep_i
            b = rep_i if below else rep
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
            _sift_down(heap, k, drow, np.int64(0))  # not the literal 0 (a second compiled copy)
            top = drow[heap[0]]
        elif random_ties:
            drow[jj] = v
    if not random_ties:
        return heap[q]
    # random ties: every other agent has its distance in drow
    return pick_with_random_ties(state, q, heap, k, drow, heap, n, np.bool_(True), i)


# ---------------------------------------------------------------------------------------------
# Own-group partners: an O(1) pick for agents whose k nearest are all in their own group.
#
# In a grouped round an agent's own group (the agents with its row, bit for bit) is at distance
# exactly 0, and no other agent is (see :func:`_own_group_table`). When the group holds at
# least k agents besides i, the k nearest by (distance, index) are therefore the k
# lowest-indexed of them, and the partner, uniform over that set, is the member of rank q for q
# uniform in 0..k-1: one draw and two look-ups, no distances. Whether an agent takes this pick
# is decided before q is drawn (it depends on the round's rows and k only), so every agent's
# partner stays uniform over the same k-nearest set; the other agents keep the heap pass
# (:func:`pick_k_nearest_grouped`). Which draw maps to which member differs from the heap's
# layout, so the random stream of such runs differs from the heap pass's (the distribution
# does not).
#
# Layout of ``Scratch.grp`` (int64, :func:`own_group_size` entries) after :func:`knn_round_prepare`:
GRP_MEMBERS = 0  # grp[a'] for a' < n: the agents sorted by (group, index)
GRP_POS = 1  # grp[n + a]: agent a's position among its group's members
GRP_BASE = 2  # grp[2 n + a]: where agent a's group starts in the member list, or -1: no own-group pick
GRP_START = 3  # grp[3 n + g], g <= G: where group g starts in the member list

# Distinct rows whose entries are all at least this far from 0 have a distance > 0 in float64: two
# different doubles >= f differ by at least 2^-53 f, whose square (>= 2^-106 f^2, about 1e-232
# here) does not underflow to 0, and the distance sums non-negative terms. Below it (an eps far
# below the default 1e-12) a different row could sit at a computed distance 0 and tie with the
# own group, so the round skips the own-group pick altogether.
OWN_GROUP_MIN_FLOOR = 1e-100


def own_group_size(n):
    """Entries of the ``Scratch.grp`` buffer for n agents."""
    return 4 * n + 1


@kernel(inline="always")
def _no_own_group(grp, n):
    for a in range(n):
        grp[GRP_BASE * n + a] = -1


@kernel(inline="always")
def _own_group_table(D, floor, gid, grp, G, n, k, random_ties):
    """The table of :func:`own_group_partner` for a grouped round (end of :func:`knn_round_prepare`).

    No own-group pick (``grp[2 n + a] = -1`` for every agent) with random
    ties or when some weight lies below ``OWN_GROUP_MIN_FLOOR``; otherwise
    for the agents of every group with more than k members.
    """
    base = GRP_BASE * n
    if random_ties:
        _no_own_group(grp, n)
        return
    for g in range(G):  # the representatives' floors: the other rows equal theirs
        if not floor[np.int64(D[KEY_REP, g])] >= OWN_GROUP_MIN_FLOOR:
            _no_own_group(grp, n)
            return
    start = GRP_START * n
    pos = GRP_POS * n
    # counting sort of the agents by group, stable (index order within a group); grp[base + g]
    # serves as group g's cursor until the agents' entries overwrite it below
    for g in range(G + 1):
        grp[start + g] = 0
    for a in range(n):
        grp[start + gid[a] + 1] += 1
    for g in range(G):
        grp[start + g + 1] += grp[start + g]
    for g in range(G):
        grp[base + g] = grp[start + g]
    for a in range(n):
        g = gid[a]
        p = grp[base + g]
        grp[GRP_MEMBERS * n + p] = a
        grp[pos + a] = p - grp[start + g]
        grp[base + g] = p + 1
    for a in range(n):
        g = gid[a]
        s = grp[start + g]
        # more than k members: at least k besides a itself
        grp[base + a] = s if grp[start + g + 1] - s > k else -1


@kernel(inline="always")
def own_group_partner(state, i, k, grp, n):
    """Agent i's partner when ``grp[2 n + i] >= 0``: its own group's member of rank q (i skipped), q uniform in 0..k-1."""
    b = grp[GRP_BASE * n + i]
    q = randint(state, k)
    if q >= grp[GRP_POS * n + i]:
        q += 1
    return grp[GRP_MEMBERS * n + b + q]
