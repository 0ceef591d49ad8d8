"""Every kernel variant made by a factory is found again in Numba's on-disk cache by a later process.

Numba keys a closure's cache entry on the pickled values of its closure
variables. A value whose pickle differs between processes (a dispatcher
carries a per-process id) makes every new process miss the cache and compile
the variant again: ``gmmproxy warmup`` would then warm nothing, and a second
``gmmproxy simulate`` would cost as much as the first.
"""
import os
import subprocess
import sys

from gmmproxy._kernels import chain, rounds

_KEYS = """
import hashlib
from numba.core.serialize import dumps
from gmmproxy._kernels import chain, rounds

fns = []
for dens in (rounds.DENS_BANDED, rounds.DENS_1D, rounds.DENS_ND):
    for partner in (rounds.PARTNER_ALL, rounds.PARTNER_KNN, rounds.PARTNER_GRAPH, rounds.PARTNER_SPARSE):
        for wide in (False, True):
            fns.append(rounds.alg1_kernel(dens, partner, wide))
for partner in (rounds.PARTNER_ALL, rounds.PARTNER_KNN, rounds.PARTNER_GRAPH, rounds.PARTNER_SPARSE):
    fns.append(rounds.alg2_kernel(partner))
for sender in (chain.SENDER_UNIFORM, chain.SENDER_KNN):
    fns.append(chain.block_kernel(sender))
for f in fns:
    # the closure part of Numba's cache index key (numba.core.caching.Cache._index_key)
    cells = tuple(c.cell_contents for c in f.py_func.__closure__ or ())
    print(hashlib.sha256(dumps(cells)).hexdigest())
"""


def _closure_keys():
    out = subprocess.run([sys.executable, "-c", _KEYS], capture_output=True, text=True, check=True,
                         env=dict(os.environ))
    return out.stdout.split()


def test_closure_part_of_the_cache_key_is_the_same_in_every_process():
    first, second = _closure_keys(), _closure_keys()
    assert len(first) == 3 * 4 * 2 + 4 + 2
    assert first == second
    # and the Algorithm-1 variants are told apart (each has its own cache entry)
    assert len(set(first[:24])) == 24


def test_closure_values_are_plain_numbers():
    fns = [rounds.alg1_kernel(rounds.DENS_BANDED, rounds.PARTNER_ALL, True), rounds.alg2_kernel(rounds.PARTNER_KNN),
           chain.block_kernel(chain.SENDER_KNN)]
    for f in fns:
        for cell in f.py_func.__closure__:
            assert type(cell.cell_contents) in (int, bool), (f.py_func.__qualname__, cell.cell_contents)
