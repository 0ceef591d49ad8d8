"""The batched kernel sees one set of argument types however its parameters are given (one compile, not one per form)."""
import numba
import numpy as np

from gmmproxy._kernels import batched
from gmmproxy.bridge.calibration.batch import Geometry, simulate_batch


def _types_of_calls(monkeypatch, calls):
    seen = []
    monkeypatch.setattr(batched, "run_jobs", lambda *args: seen.append(tuple(numba.typeof(a) for a in args)))
    for geometry, kw in calls:
        simulate_batch(geometry, 3, seed=0, **kw)
    return seen


def test_scalars_arrays_and_read_only_inputs_give_the_same_kernel_types(monkeypatch):
    frozen = np.full(3, 0.2)
    frozen.flags.writeable = False
    g = Geometry(6)
    means = g.means.copy()
    means.flags.writeable = False
    calls = [
        (g, dict(p_mirror=0.3, n_neighbors=2, sigma=0.1, rag_size=1)),                          # one job, scalars
        (g, dict(p_mirror=np.full(3, 0.3), n_neighbors=2, sigma=0.1, rag_size=1)),              # arrays and scalars
        (g, dict(p_mirror=frozen, n_neighbors=[1, 2, 3], sigma=np.float32(0.1), rag_size=[1, 1, 2],
                 rounds_per_step=np.array([1, 2, 1]), activation=0.5, answer_current=True)),
        (Geometry(6, means, None, g.initial_weights), dict(p_mirror=0.3, n_neighbors=2, sigma=0.1, rag_size=1)),
        (g, dict(p_mirror=np.broadcast_to(0.3, (4,)), n_neighbors=2, sigma=0.1, rag_size=1)),
    ]
    seen = _types_of_calls(monkeypatch, calls)
    assert len(seen) == len(calls)
    assert len(set(seen)) == 1, [str(t) for t in set(seen[0]) ^ set(seen[-1])]
    # and none of them is a read-only array type (what production calls compile)
    assert not any(getattr(t, "readonly", False) for t in seen[0])
