"""Software prefetch of a partner's state, for populations too large for the caches.

On a sparse graph of 10^5 agents the partner of each update is a random
agent whose rows (weights, RAG points, cached densities) are cache misses;
they were measured to cost about 0.85 us of a 2 us update (against a banded
graph whose partners are neighbours in memory). :func:`prefetch_agent` asks
the CPU to start loading them as soon as the partner is known, so that the
misses overlap the sampling of the agent's own query instead of stalling the
EM step that reads them. A prefetch is only a hint: results are unchanged.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from gmmproxy._kernels.cache import kernel

#: rows longer than this many bytes are not prefetched whole (a large K: the
#: band actually read is a small part of the row)
MAX_PREFETCH_ROW = 2048


@intrinsic
def prefetch_bytes(typingctx, arr, offset):
    """``llvm.prefetch`` (read, high locality) of the byte ``offset`` of ``arr``'s data."""
    if not isinstance(arr, types.Array) or not isinstance(offset, types.Integer):
        return None
    sig = types.void(arr, offset)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = ir.IntType(8).as_pointer()
        off = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = builder.gep(builder.bitcast(ary.data, i8p), [off])
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])  # read, keep in all cache levels, data
        return context.get_dummy_value()

    return sig, codegen


@kernel(inline="always")
def prefetch_row(arr, j):
    """Prefetch every cache line of row ``j`` of a C-contiguous array (skipped for long rows)."""
    size = arr.strides[0]
    if size > MAX_PREFETCH_ROW:
        return
    start = j * size
    for off in range(0, size, 64):
        prefetch_bytes(arr, start + off)
    prefetch_bytes(arr, start + size - 1)  # the last line, when the row does not start on a line


@kernel(inline="always")
def prefetch_agent(pop, j):
    """Prefetch what the partner's pseudo-update reads of agent ``j`` (Algorithm 1's ``Population``)."""
    prefetch_row(pop.W, j)
    prefetch_row(pop.R, j)
    prefetch_row(pop.BL, j)
    prefetch_row(pop.BH, j)
    prefetch_row(pop.BS, j)
    prefetch_row(pop.DN, j)
