"""Numba kernels of the single-agent-update Markov chain (spec Section 4).

Private: ``gmmproxy.chain`` validates every input before calling in here.

Weights are held as *log* weights. Near a pole the weight on the dominant
component is ``1 - delta`` with ``delta`` as small as 1e-44 (sigma = 0.1,
level 1), which float64 cannot tell apart from 1; its logarithm ``-delta`` and
the logarithm of the minority weight ``log(delta)`` are both representable to
full relative precision, so the threshold tests of the theory stay exact.
"""
import math
from collections import namedtuple

import numpy as np

from gmmproxy._kernels.cache import kernel
from gmmproxy._kernels.neighbors import k_nearest_heap
from gmmproxy._kernels.rng import categorical, randint, standard_normal, uniform

_LN_HALF = -0.6931471805599453


@kernel(inline="always")
def log_mean_exp(vals, n):
    """``log((1/n) sum_h exp(vals[h]))`` accurate both near 0 and in the tails.

    When the largest value is close to 0 (a weight close to 1), ``log1p`` of
    the mean of ``expm1`` keeps the tiny distance to 0; otherwise the usual
    max-shifted log-sum-exp is used.
    """
    big = -np.inf
    for h in range(n):
        if vals[h] > big:
            big = vals[h]
    if big == -np.inf:
        return -np.inf
    if big < _LN_HALF:
        s = 0.0
        for h in range(n):
            s += math.exp(vals[h] - big)
        return big + math.log(s / n)
    s = 0.0
    for h in range(n):
        s += math.expm1(vals[h])
    return math.log1p(s / n)


@kernel(inline="always")
def log_normalise(logw, out):
    """Write ``logw - logsumexp(logw)`` into ``out`` (both length K).

    The dominant entry is computed as ``-log1p(sum of the others' ratios)`` so
    that a log weight of ``-1e-44`` is not rounded to 0.
    """
    k_len = logw.shape[0]
    big = -np.inf
    arg = 0
    for c in range(k_len):
        if logw[c] > big:
            big = logw[c]
            arg = c
    s = 0.0
    for c in range(k_len):
        if c != arg:
            s += math.exp(logw[c] - big)
    l1 = math.log1p(s)
    for c in range(k_len):
        if c == arg:
            out[c] = -l1
        else:
            out[c] = (logw[c] - big) - l1


@kernel(inline="always")
def point_loglik(x, means, inv_two_var, log_sig_d, out):
    """Log-density of point ``x`` (d,) under each component, up to a shared constant."""
    k_len = means.shape[0]
    d = means.shape[1]
    for c in range(k_len):
        q = 0.0
        for a in range(d):
            diff = x[a] - means[c, a]
            q += diff * diff
        out[c] = -q * inv_two_var[c] - log_sig_d[c]


@kernel(_nrt=False, internal=True)
def em_step(logw, ll, r, log_eps, log_1m_eps, s_buf, lg_buf, out):
    """One EM weight step in log space.

    Not ``em.em_weights``: the chain keeps *log* weights so that the
    theorems' thresholds (a minority weight of 1e-44 next to 1 - 1e-44) stay
    exact, which the simulator's linear-space step cannot represent.

    ``logw`` (K,) current log weights; ``ll`` (r, K) log-likelihoods of the r
    RAG points; writes the new log weights into ``out`` (K,).
    ``lg_buf`` has shape (K, r). Weights are clipped to ``[eps, 1-eps]`` and
    renormalised when ``log_eps > -inf`` (eps > 0); eps = 0 is the exact chain.
    """
    k_len = logw.shape[0]
    for h in range(r):
        # responsibilities of point h in log space (in place: each entry is read before it is written)
        for c in range(k_len):
            s_buf[c] = logw[c] + ll[h, c]
        log_normalise(s_buf, s_buf)
        for c in range(k_len):
            lg_buf[c, h] = s_buf[c]
    for c in range(k_len):
        out[c] = log_mean_exp(lg_buf[c], r)
    if log_eps > -np.inf:
        for c in range(k_len):
            v = out[c]
            if v < log_eps:
                v = log_eps
            elif v > log_1m_eps:
                v = log_1m_eps
            s_buf[c] = v
        log_normalise(s_buf, out)


@kernel(inline="always")
def _agent_ok(logw_row, rag_row, r, log_delta):
    """Agent part of E_l: weight beyond the threshold and RAG inside that pole's window."""
    if logw_row[1] <= log_delta:  # w_+ >= 1 - delta  <=>  w_- <= delta
        for h in range(r):
            x = rag_row[h, 0]
            if x < 0.5 or x > 1.5:
                return False
        return True
    if logw_row[0] <= log_delta:
        for h in range(r):
            x = rag_row[h, 0]
            if x < -1.5 or x > -0.5:
                return False
        return True
    return False


@kernel(_nrt=False, internal=True)
def _choose_sender(i, wexp, m, k, dist, cand, heap, state):
    """Sender for agent ``i``: uniform over its k >= 1 nearest others.

    Nearest by squared distance of the weight rows, ties to the lower index;
    the k-nearest set comes from the same selector as the simulator's
    (``neighbors.k_nearest_heap``).
    """
    k_len = wexp.shape[1]
    cnt = np.int64(0)
    for j in range(m):
        q = 0.0
        for c in range(k_len):
            diff = wexp[i, c] - wexp[j, c]
            q += diff * diff
        dist[j] = q
        if j != i:
            cand[cnt] = j
            cnt += 1
    pick = randint(state, k)
    k_nearest_heap(cand, cnt, dist, k, heap)
    return heap[pick]


#: Per-block work arrays of the block function (:func:`block_kernel`; allocated in Python by
#: :func:`new_chain_scratch`: the kernel allocates nothing, so it is compiled
#: without Numba's reference counting). ``inv_two_var``, ``log_sig_d`` (K,):
#: per-component constants of the log-likelihood; ``wexp`` (m, K): the
#: weights (exp of the log weights), read by the sender choice and the
#: sampling; ``ll`` (m, r, K): log-likelihood of every RAG point; ``dist``,
#: ``cand``, ``heap`` (m,): the k-nearest selection; ``x`` (d,): the draw;
#: ``s_buf``, ``new_w`` (K,), ``lg_buf`` (K, r): the EM step; ``ok`` (levels,
#: m), ``n_ok`` (levels,): the agents inside E_l and their count.
ChainScratch = namedtuple("ChainScratch", "inv_two_var log_sig_d wexp ll dist cand heap x s_buf lg_buf new_w ok n_ok")


def new_chain_scratch(m: int, K: int, r: int, d: int, n_levels: int) -> ChainScratch:
    return ChainScratch(np.empty(K), np.empty(K), np.empty((m, K)), np.empty((m, r, K)), np.empty(m),
                        np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64), np.empty(d), np.empty(K),
                        np.empty((K, r)), np.empty(K), np.zeros((n_levels, m), dtype=np.bool_),
                        np.zeros(n_levels, dtype=np.int64))


#: who sends to the updated agent: anyone, uniformly (k = 0), or one of its k nearest
SENDER_UNIFORM = 0
SENDER_KNN = 1

_BLOCKS = {}


def block_kernel(SENDER):
    """The block function ``run_block`` of the chain for one sender rule (``SENDER_UNIFORM`` or ``SENDER_KNN``).

    The rule is a closure constant, so Numba prunes the other branch before
    typing it: the default ``theory montecarlo`` (uniform sender) compiles
    no k-nearest selection. Each rule is cached on disk separately; built
    once per process.
    """
    if SENDER in _BLOCKS:
        return _BLOCKS[SENDER]

    @kernel(_nrt=False, nogil=True)
    def run_block(states, lo, hi, logw0, rag0, means, sigmas, steps, k, log_eps, log_1m_eps,
                  rag_mode, log_deltas, track,
                  out_logw, out_rag, rec_logw, rec_rag, rec_i, rec_j, rec_x,
                  hit_time, final_ok, in_window, scr):
        """Run replicates ``lo .. hi-1``; replicate ``b`` uses only ``states[b]`` and row ``b`` of the outputs.

        Each replicate starts from ``logw0`` (m, K) and ``rag0`` (m, r, d) and
        leaves its final state in ``out_logw[b]``, ``out_rag[b]``. ``rag_mode``:
        0 use ``rag0`` as given, 1 sample each agent's RAG from its own mixture,
        2 uniform in the window of the agent's pole (two-component 1-d case).
        Recording arrays have a second axis of length steps+1 (states) or steps
        (events), or length 0 when not recorded. ``track``: maintain E_l for
        every level in ``log_deltas`` (two-component case). ``scr``: this
        block's work arrays (:func:`new_chain_scratch`).

        First-use compile time: one compiled function with the replicate loop
        inside (not a block function calling a replicate function), because
        Numba links and optimises every callee again in each caller, so a level
        less saves a whole LLVM pass over the chain's code. The small helpers
        (log-sum-exp, normalisation, log-likelihood, the E_l test, recording)
        are inlined at Numba-IR level: each separately compiled function costs
        0.1-0.3 s of fixed overhead, more than typing a copy at its one or two
        call sites (first-use CPU time of the chain 10.7 -> 7.5 s, best of 3,
        same window; per step unchanged or faster). Whole-array copies are
        explicit loops, not ``dst[...] = src``: Numba's array assignment
        compiles a shape-mismatch error message (string formatting and joins).
        """
        m = logw0.shape[0]
        k_len = logw0.shape[1]
        r = rag0.shape[1]
        d = rag0.shape[2]
        n_lev = log_deltas.shape[0]
        inv_two_var = scr.inv_two_var
        log_sig_d = scr.log_sig_d
        wexp = scr.wexp
        ll = scr.ll
        x = scr.x
        new_w = scr.new_w
        ok = scr.ok
        n_ok = scr.n_ok
        for c in range(k_len):
            inv_two_var[c] = 0.5 / (sigmas[c] * sigmas[c])
            log_sig_d[c] = d * math.log(sigmas[c])
        do_rec_w = rec_logw.shape[1] > 0
        do_rec_r = rec_rag.shape[1] > 0
        do_rec_e = rec_i.shape[1] > 0

        for b in range(lo, hi):
            state = states[b]
            logw = out_logw[b]
            rag = out_rag[b]
            for i in range(m):
                for c in range(k_len):
                    logw[i, c] = logw0[i, c]
                    wexp[i, c] = math.exp(logw0[i, c])
                for h in range(r):
                    for a in range(d):
                        rag[i, h, a] = rag0[i, h, a]

            if rag_mode == 1:
                for i in range(m):
                    for h in range(r):
                        c = categorical(state, wexp[i])
                        for a in range(d):
                            rag[i, h, a] = means[c, a] + sigmas[c] * standard_normal(state)
            elif rag_mode == 2:
                for i in range(m):
                    c = 0 if logw[i, 0] >= logw[i, 1] else 1
                    for h in range(r):
                        rag[i, h, 0] = means[c, 0] + (uniform(state) - 0.5)

            for i in range(m):
                for h in range(r):
                    point_loglik(rag[i, h], means, inv_two_var, log_sig_d, ll[i, h])

            if track:
                in_window[b] = True
                for lv in range(n_lev):
                    hit_time[b, lv] = -1
                    n_ok[lv] = 0
                    for i in range(m):
                        ok[lv, i] = _agent_ok(logw[i], rag[i], r, log_deltas[lv])
                        if ok[lv, i]:
                            n_ok[lv] += 1
                    if n_ok[lv] == m:
                        hit_time[b, lv] = 0

            if do_rec_w or do_rec_r:
                _record_state(b, 0, logw, rag, do_rec_w, do_rec_r, rec_logw, rec_rag)

            for t in range(steps):
                i = randint(state, m)
                if SENDER == SENDER_KNN:
                    j = _choose_sender(i, wexp, m, k, scr.dist, scr.cand, scr.heap, state)
                else:
                    j = randint(state, m)
                c = categorical(state, wexp[j])
                # the sender's pole, read before agent i is updated (j == i is allowed)
                pole = 0
                if track and logw[j, 0] < logw[j, 1]:
                    pole = 1
                for a in range(d):
                    x[a] = means[c, a] + sigmas[c] * standard_normal(state)
                # farthest RAG point from x is replaced (first index on ties)
                far = -1.0
                hstar = 0
                for h in range(r):
                    q = 0.0
                    for a in range(d):
                        diff = rag[i, h, a] - x[a]
                        q += diff * diff
                    if q > far:
                        far = q
                        hstar = h
                for a in range(d):
                    rag[i, hstar, a] = x[a]
                point_loglik(x, means, inv_two_var, log_sig_d, ll[i, hstar])
                em_step(logw[i], ll[i], r, log_eps, log_1m_eps, scr.s_buf, scr.lg_buf, new_w)
                for cc in range(k_len):
                    logw[i, cc] = new_w[cc]
                    wexp[i, cc] = math.exp(new_w[cc])

                if track:
                    if abs(x[0] - means[pole, 0]) > 0.5:
                        in_window[b] = False
                    for lv in range(n_lev):
                        now = _agent_ok(logw[i], rag[i], r, log_deltas[lv])
                        if now != ok[lv, i]:
                            ok[lv, i] = now
                            n_ok[lv] += 1 if now else -1
                        if hit_time[b, lv] < 0 and n_ok[lv] == m:
                            hit_time[b, lv] = t + 1

                if do_rec_w or do_rec_r:
                    _record_state(b, t + 1, logw, rag, do_rec_w, do_rec_r, rec_logw, rec_rag)
                if do_rec_e:
                    rec_i[b, t] = i
                    rec_j[b, t] = j
                    for a in range(d):
                        rec_x[b, t, a] = x[a]

            if track:
                for lv in range(n_lev):
                    final_ok[b, lv] = n_ok[lv] == m

    _BLOCKS[SENDER] = run_block
    return run_block


@kernel(inline="always")
def _record_state(b, t, logw, rag, do_w, do_r, rec_logw, rec_rag):
    """State t of replicate b into the recording arrays (explicit loops: see :func:`block_kernel`)."""
    m, k_len = logw.shape
    r, d = rag.shape[1], rag.shape[2]
    for i in range(m):
        if do_w:
            for c in range(k_len):
                rec_logw[b, t, i, c] = logw[i, c]
        if do_r:
            for h in range(r):
                for a in range(d):
                    rec_rag[b, t, i, h, a] = rag[i, h, a]


def run_many(states, *args, n_threads=None):
    """All replicates of ``states``, in contiguous blocks on ``n_threads`` threads (default
    ``numba.get_num_threads()``); returns the seconds spent compiling (or loading) the kernel.

    The arguments after ``states`` are those of ``run_block`` (:func:`block_kernel`) after ``lo, hi``
    and before ``scr``. Results do not depend on the number of threads.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numba

    from gmmproxy._kernels.runner import ensure_compiled

    R = states.shape[0]
    threads = numba.get_num_threads() if n_threads is None else int(n_threads)
    n_blocks = max(1, min(R, threads))
    bounds = [(R * q) // n_blocks for q in range(n_blocks + 1)]
    logw0, rag0, log_deltas = args[0], args[1], args[9]
    m, K = logw0.shape
    r, d = rag0.shape[1], rag0.shape[2]

    def scratch():
        return new_chain_scratch(m, K, r, d, log_deltas.shape[0])

    k = args[5]
    run_block = block_kernel(SENDER_KNN if k > 0 else SENDER_UNIFORM)
    what = "Markov-chain (k nearest senders)" if k > 0 else "Markov-chain"
    compile_s = ensure_compiled(run_block, (states, 0, R) + tuple(args) + (scratch(),), what)
    if n_blocks == 1:
        run_block(states, 0, R, *args, scratch())
        return compile_s
    with ThreadPoolExecutor(max_workers=n_blocks, thread_name_prefix="gmmproxy-chain") as pool:
        futures = [pool.submit(run_block, states, bounds[q], bounds[q + 1], *args, scratch())
                   for q in range(n_blocks)]
        for f in futures:
            f.result()
    return compile_s
