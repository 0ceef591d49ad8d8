"""A batched kernel for calibration: many parameter sets x replicates of Algorithm 1 in one call.

Every *job* (one replicate of one parameter set) carries its own mirroring
probability ``p``, neighbourhood size ``k``, spread scale ``sigma``, RAG size
``r``, rounds per recorded step ``M``, activation probability ``a`` and
``eps``; the component means and the shape of the covariances are shared.
Jobs run in parallel (one loop per Python thread taking jobs from a shared
queue, see :func:`run_jobs`); each owns its xoshiro state, so results do not
depend on the thread count, the job order or which thread runs a job.

The model is Algorithm 1 (synchronous rounds, farthest-point RAG
replacement) with three documented extensions, all of which reduce to the
paper's model at their defaults (``M = 1``, ``a = 1``, ``answer_current =
False``):

* *random activation*: in each round every agent acts with probability
  ``a`` (an agent that does not act keeps its weights and RAG); ``M``
  rounds are run between two recorded steps, so the expected number of
  actions per agent per recorded step is ``M * a`` (the calibration's time
  scale);
* *answer from the current weights* (``answer_current``): the partner
  answers from its current weights instead of its pseudo-updated ones;
* *random tie-breaking among the k nearest*: distances that agree to within
  ``TIE_JITTER`` are ordered by a randomly rotated agent index rather than
  by agent index (with the paper's one-hot start all initial distances tie
  exactly, and ordering them by index would make agent 0 everyone's
  nearest neighbour).

Sparse weight rows. After an EM step every component outside the density
bands of an agent's RAG points gets the clipped weight ``eps`` before the
renormalisation, so a weight row equals one *floor* value everywhere but on
a short *span* (a few components in the paper's 1-d set-up). Each row is
stored as its span ``[lo, hi)`` (values in ``W``; entries outside are stale
and never read) and its floor, and every per-update operation -- the EM step,
drawing a component, weight-space distances, the argmax -- touches the span
and the bands only, never all K components. This is the same arithmetic as
the dense step up to the order of summation: the dense renormaliser adds
the ``K - m`` equal floor terms one by one, here they are one product.
Component draws map the uniform variate to the same component as the dense
cumulative scan (floor components before, in and after the span in
order).

Once silos have formed, three exact shortcuts skip work (the same floats as
the full computation): with one RAG point, a one-hot row's EM step near its
own topic needs no density band (``span_rows._one_hot_em_1d``; the point's
densities are then not stored, as nothing reads them again); a step that
returns the agent's own row leaves its norms and excess column alone; and
each agent's row of distances is cached until some weight row changes
(``span_rows._copy_partner``).

Densities of the RAG points live in one table ``DD`` of rows; ``slot_row[i, h]``
names the row of agent i's point h. A replacement computed in a round is
written into the agent's spare row and swapped in after the round, so that
every read in a round sees the previous round's state (synchronous updates).

Output: the silo (argmax weight) of every agent at every recorded step, and
whether the agent copied (acted at least once with a partner other than
itself) during the step that led there.

Only the public helpers of ``gmm.py`` and ``rng.py`` are used, so speed-ups
there carry over, except for normal draws: these come from the ziggurat
(``ziggurat.py``; a third of Box-Muller's cost, which was about a fifth of the
kernel's time), so this kernel's random stream differs from the core engine's.
"""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from gmmproxy._kernels.cache import kernel
from gmmproxy._kernels.gmm import (
    clip_normalise,
    density_cutoff,
    draw_from_component,
    farthest_index,
)
from gmmproxy._kernels.rng import uniform
from gmmproxy._kernels.span_rows import (
    _copy_partner,
    _densities,
    _excess_column,
    _one_hot_em_1d,
    one_hot_limits,
    _jitter_ramp,
    _row_features,
    _span_of_row,
    _sparse_argmax,
    _sparse_categorical,
    _sparse_em,
    _write_dense,
)


@kernel(_nrt=False)
def _rounds(state, W, Wn, R, DD, BL, BH, BS, slot_row, spare_row, mu, chol, mu1, inv_sd, log_sd, half_logdet,
            banded, inv_spacing, cutoff, logd, work, acted, copied, slot_new, y_new, span_lo, span_hi, floor,
            norm2, excess, ET, ramp, new_lo, new_hi, new_floor, drow, DC, dc_epoch, acc, x, y, WB, p, k, rounds_per_step, activation,
            eps, answer_current, steps, out_silos, out_copied, out_weights):
    """The rounds of one job on preallocated buffers (no allocation, no reference counting)."""
    n = W.shape[0]
    d = mu.shape[1]
    x_row = DD.shape[0] - 1  # scratch row for the densities of a query x
    epoch = 0  # counts changes of weight rows (validity of the cached distance rows DC)
    # the one-hot shortcut of the EM step needs one RAG point and evenly spaced 1-d means of one sd
    one_hot_path = slot_row.shape[1] == 1 and banded and inv_spacing > 0.0
    v_max, wf_max = one_hot_limits(W.shape[1], eps)
    for t in range(steps):
        for i in range(n):
            copied[i] = False
        for _m in range(rounds_per_step):
            for i in range(n):
                acted[i] = False
                if activation < 1.0 and uniform(state) >= activation:
                    continue
                acted[i] = True
                if uniform(state) < p:
                    j = i
                else:
                    j = _copy_partner(state, i, n, k, W, span_lo, span_hi, floor, norm2, excess, ET, ramp, drow, DC,
                                      dc_epoch, epoch)
                    copied[i] = True
                if answer_current:
                    c = _sparse_categorical(state, W, j, span_lo[j], span_hi[j], floor[j])
                    draw_from_component(state, c, mu, chol, y)
                else:
                    # the paper: i's query x enters j's RAG in a pseudo-update, j answers from it
                    c = _sparse_categorical(state, W, i, span_lo[i], span_hi[i], floor[i])
                    draw_from_component(state, c, mu, chol, x)
                    lx, hx, bx = _densities(x, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded,
                                            inv_spacing, cutoff, logd, work, DD, x_row)
                    BL[x_row] = lx
                    BH[x_row] = hx
                    BS[x_row] = bx
                    slot_j = farthest_index(R, j, x)
                    blo, bhi, bf = _sparse_em(W, j, span_lo[j], span_hi[j], floor[j], DD, BL, BH, BS, slot_row,
                                              j, slot_j, x_row, eps, acc, WB, 0)
                    c = _sparse_categorical(state, WB, 0, blo, bhi, bf)
                    draw_from_component(state, c, mu, chol, y)
                lo = -1
                if one_hot_path and span_hi[i] - span_lo[i] == 1:
                    # one RAG point, a one-hot row: usually no density band needed (span_rows._one_hot_em_1d)
                    slot_i = 0
                    lo, hi, f = _one_hot_em_1d(y[0], mu1, inv_sd, log_sd[0], inv_spacing, cutoff, W, i,
                                               span_lo[i], floor[i], eps, v_max, wf_max, Wn, i)
                if lo < 0:
                    q = spare_row[i]
                    ly, hy, by = _densities(y, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded,
                                            inv_spacing, cutoff, logd, work, DD, q)
                    BL[q] = ly
                    BH[q] = hy
                    BS[q] = by
                    slot_i = farthest_index(R, i, y)
                    lo, hi, f = _sparse_em(W, i, span_lo[i], span_hi[i], floor[i], DD, BL, BH, BS, slot_row,
                                           i, slot_i, q, eps, acc, Wn, i)
                new_lo[i] = lo
                new_hi[i] = hi
                new_floor[i] = f
                slot_new[i] = slot_i
                for a in range(d):
                    y_new[i, a] = y[a]
            for i in range(n):
                if not acted[i]:
                    continue
                h = slot_new[i]
                for a in range(d):
                    R[i, h, a] = y_new[i, a]
                # swap the new densities in; the replaced row becomes the spare
                q = spare_row[i]
                spare_row[i] = slot_row[i, h]
                slot_row[i, h] = q
                lo = new_lo[i]
                hi = new_hi[i]
                # once silos have formed an EM step often gives exactly the row the agent had:
                # then its norms, excess column and everyone's cached distances stay valid
                same = lo == span_lo[i] and hi == span_hi[i] and new_floor[i] == floor[i]
                if same:
                    for c in range(lo, hi):
                        if Wn[i, c] != W[i, c]:
                            same = False
                            break
                if same:
                    continue
                epoch += 1
                for c in range(lo, hi):
                    W[i, c] = Wn[i, c]
                old_lo = span_lo[i]
                old_hi = span_hi[i]
                span_lo[i] = lo
                span_hi[i] = hi
                floor[i] = new_floor[i]
                _row_features(W, i, span_lo, span_hi, floor, norm2, excess)
                _excess_column(W, i, old_lo, old_hi, span_lo, span_hi, floor, ET)
        for i in range(n):
            out_silos[t + 1, i] = _sparse_argmax(W, i, span_lo[i], span_hi[i], floor[i])
            out_copied[t + 1, i] = copied[i]
        if out_weights.shape[0] > 0:
            _write_dense(W, span_lo, span_hi, floor, out_weights, t + 1)


@kernel()
def run_job(state, W0, mu, chol_base, p, k, sigma_scale, r, rounds_per_step, activation, eps,
            answer_current, steps, out_silos, out_copied, out_weights):
    """One replicate: ``steps`` recorded steps of ``rounds_per_step`` rounds each.

    ``out_silos`` (steps + 1, n) receives the silo (argmax weight, ties to
    the smaller index) of every agent at every recorded step; row 0 is the
    initial state. ``out_copied`` (steps + 1, n) is True where the agent
    acted with a partner other than itself at least once during the step
    that ended there (row 0 False). ``out_weights`` (steps + 1, n, K)
    receives the dense weights at every recorded step, or is skipped when it
    has length 0. Covariances are ``sigma_scale**2 * chol_base chol_base^T``.
    """
    n, K = W0.shape
    d = mu.shape[1]
    chol = chol_base * sigma_scale
    half_logdet = np.empty(K)
    for c in range(K):
        s = 0.0
        for a in range(d):
            s += math.log(chol[c, a, a])
        half_logdet[c] = s
    mu1 = mu[:, 0].copy()
    inv_sd = np.empty(K)
    log_sd = np.empty(K)
    for c in range(K):
        inv_sd[c] = 1.0 / chol[c, 0, 0]
        log_sd[c] = math.log(chol[c, 0, 0])
    # fast path: 1-d, one common sd, ascending means (the paper's set-up)
    banded = d == 1
    if banded:
        for c in range(K):
            if chol[c, 0, 0] != chol[0, 0, 0] or (c > 0 and mu1[c] < mu1[c - 1]):
                banded = False
    inv_spacing = 0.0
    if banded and K > 1 and mu1[K - 1] > mu1[0]:
        step = (mu1[K - 1] - mu1[0]) / (K - 1)
        even = True
        for c in range(K):
            if abs(mu1[c] - (mu1[0] + c * step)) > 1e-9 * step:
                even = False
        if even:
            inv_spacing = 1.0 / step
    cutoff = density_cutoff(eps)

    W = np.empty((n, K))
    for i in range(n):
        clip_normalise(W0[i], eps, W[i])
    Wn = np.empty((n, K))
    R = np.empty((n, r, d))
    # density rows: n*r RAG points, n spares, one scratch row for queries
    nrows = n * r + n + 1
    DD = np.zeros((nrows, K))
    BL = np.zeros(nrows, dtype=np.int64)
    BH = np.zeros(nrows, dtype=np.int64)
    BS = np.zeros(nrows)
    slot_row = np.empty((n, r), dtype=np.int64)
    spare_row = np.empty(n, dtype=np.int64)
    logd = np.empty(K)
    work = np.empty(d)
    span_lo = np.zeros(n, dtype=np.int64)
    span_hi = np.zeros(n, dtype=np.int64)
    floor = np.zeros(n)
    norm2 = np.zeros(n)
    excess = np.zeros(n)
    ET = np.zeros((K, n))  # excess table, component-major (see span_rows._jittered_distances)
    ramp = np.empty(2 * n)
    _jitter_ramp(n, ramp)
    for i in range(n):
        _span_of_row(W, i, span_lo, span_hi, floor)
        _row_features(W, i, span_lo, span_hi, floor, norm2, excess)
        _excess_column(W, i, 0, 0, span_lo, span_hi, floor, ET)
        spare_row[i] = n * r + i
        for h in range(r):
            q = i * r + h
            slot_row[i, h] = q
            c = _sparse_categorical(state, W, i, span_lo[i], span_hi[i], floor[i])
            draw_from_component(state, c, mu, chol, R[i, h])
            lo, hi, bs = _densities(R[i, h], mu, chol, mu1, inv_sd, log_sd, half_logdet, banded, inv_spacing,
                                    cutoff, logd, work, DD, q)
            BL[q] = lo
            BH[q] = hi
            BS[q] = bs
    acted = np.zeros(n, dtype=np.bool_)
    copied = np.zeros(n, dtype=np.bool_)
    slot_new = np.zeros(n, dtype=np.int64)
    y_new = np.empty((n, d))
    new_lo = np.zeros(n, dtype=np.int64)
    new_hi = np.zeros(n, dtype=np.int64)
    new_floor = np.zeros(n)
    drow = np.zeros(n)
    # cached distance rows (span_rows._copy_partner); n x n floats, so only for populations up to 512
    DC = np.empty((n if n <= 512 else 1, n))
    dc_epoch = np.full(n, -1, dtype=np.int64)
    acc = np.zeros(K)
    x = np.empty(d)
    y = np.empty(d)
    WB = np.empty((1, K))
    for i in range(n):
        out_silos[0, i] = _sparse_argmax(W, i, span_lo[i], span_hi[i], floor[i])
        out_copied[0, i] = False
    if out_weights.shape[0] > 0:
        _write_dense(W, span_lo, span_hi, floor, out_weights, 0)
    _rounds(state, W, Wn, R, DD, BL, BH, BS, slot_row, spare_row, mu, chol, mu1, inv_sd, log_sd, half_logdet,
            banded, inv_spacing, cutoff, logd, work, acted, copied, slot_new, y_new, span_lo, span_hi, floor,
            norm2, excess, ET, ramp, new_lo, new_hi, new_floor, drow, DC, dc_epoch, acc, x, y, WB, p, k, rounds_per_step, activation,
            eps, answer_current, steps, out_silos, out_copied, out_weights)


@intrinsic
def _next_ticket(typingctx, counter):
    """Atomically increment ``counter[0]`` (int64) and return its previous value: a shared job queue."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64 and counter.ndim == 1):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [context.get_constant(types.intp, 0)])
        return builder.atomic_rmw("add", ptr, context.get_constant(types.int64, 1), "monotonic")

    return types.int64(counter), codegen


@kernel(nogil=True)
def _work(states, W0, mu, chol_base, p, k, sigma_scale, r, rounds_per_step, activation, eps, answer_current,
          steps, out_silos, out_copied, out_weights, order, counter):
    """One worker: take jobs from the shared queue (``order``, ticket ``counter[0]``) until it is empty."""
    J = order.shape[0]
    while True:
        q = _next_ticket(counter)
        if q >= J:
            break
        b = order[q]
        # a private copy of the generator state: adjacent jobs' states share a cache line, and
        # two threads writing it at every draw would stall each other (false sharing)
        state = states[b].copy()
        run_job(state, W0, mu, chol_base, p[b], k[b], sigma_scale[b], r[b], rounds_per_step[b],
                activation[b], eps[b], answer_current[b], steps, out_silos[b], out_copied[b],
                out_weights[b])
        for w in range(state.shape[0]):  # a loop, not states[b, :] = state (no shape-error formatting code)
            states[b, w] = state[w]


def run_jobs(states, W0, mu, chol_base, p, k, sigma_scale, r, rounds_per_step, activation, eps,
             answer_current, steps, out_silos, out_copied, out_weights, order, workers):
    """Jobs in parallel: job b uses ``states[b]`` and its own entries of the parameter arrays.

    ``p, sigma_scale, activation, eps`` are float64 (J,); ``k, r,
    rounds_per_step`` int64 (J,); ``answer_current`` bool (J,);
    ``out_silos`` int16 (J, steps + 1, n); ``out_copied`` bool (J, steps + 1, n);
    ``out_weights`` float64 (J, steps + 1, n, K), or (J, 0, n, K) to record no weights.

    ``workers`` Python threads each run :func:`_work`, which releases the
    GIL and takes jobs from one shared queue in the order ``order`` (a
    permutation of the jobs, the most costly first) until it is empty: a
    thread that finishes early -- cheaper jobs, or a core not shared with
    another process -- takes more. Which thread runs a job does not change
    its result. Threads rather than ``parallel=True``: Numba's parallel
    transform compiled a second, parallel copy of the whole kernel (about a
    third of its first-use compile time), and plain threads need no
    threading layer.
    """
    counter = np.zeros(1, dtype=np.int64)
    args = (states, W0, mu, chol_base, p, k, sigma_scale, r, rounds_per_step, activation, eps, answer_current,
            steps, out_silos, out_copied, out_weights, order, counter)
    workers = max(1, min(int(workers), order.shape[0]))
    if workers == 1:
        _work(*args)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gmmproxy-calibration") as pool:
        for f in [pool.submit(_work, *args) for _ in range(workers)]:
            f.result()
