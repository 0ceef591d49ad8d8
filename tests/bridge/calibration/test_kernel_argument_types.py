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


def test_warmup_compiles_the_types_a_calibration_uses(monkeypatch):
    # `gmmproxy warmup --calibration` must compile the function a calibration then loads from the cache:
    # the same argument types as the calls of simulate_silos, for the paper's geometry and for a
    # components geometry in two dimensions
    from gmmproxy._kernels.warmup import warm_calibration_kernel
    from gmmproxy.bridge.calibration.model import Condition, ProxyModel
    from gmmproxy.bridge.calibration.simulator import simulate_silos

    seen = []
    monkeypatch.setattr(batched, "run_jobs", lambda *args: seen.append(tuple(numba.typeof(a) for a in args)))
    warm_calibration_kernel()
    assert len(seen) == 1
    components = Geometry(5, means=[[0.0, 0.0], [1.0, 0.5], [0.0, 2.0]],
                          covariances=np.broadcast_to(np.eye(2) * 0.3, (3, 2, 2)),
                          initial_weights=np.full((5, 3), 1 / 3))
    model = ProxyModel()
    theta = {name: 0.5 * (lo + hi) for name, (lo, hi) in model.priors.items()}
    for geometry in (Geometry(6), components):
        n = geometry.n_agents
        simulate_silos(model, [theta], [Condition(0.3, 3, n, 4)], 2, geometry, 0)
    assert len(seen) == 3
    assert seen[1] == seen[0] and seen[2] == seen[0]
