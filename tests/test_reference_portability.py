"""The reference engine reproduces the authors' published runs bit for bit under every CPU kernel.

Each run happens in a fresh interpreter whose environment selects a different OpenBLAS kernel
(``OPENBLAS_CORETYPE``), a different glibc libm variant (``GLIBC_TUNABLES``) or NumPy without its
AVX2 loops (``NPY_DISABLE_CPU_FEATURES``). These variables are set only for those child
processes, to emulate other machines; the package never sets them.
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import textwrap

import pytest

_SCRIPT = textwrap.dedent("""
    import hashlib, json
    import numpy as np
    import gmmproxy
    from gmmproxy import metrics
    cfg = gmmproxy.SimulationConfig(n_agents=30, n_components=30, sigma=0.2, rag_size=5,
                                    p_mirror=0.4, n_neighbors=29)
    tr = gmmproxy.simulate(cfg, steps=100, seed=618327487, engine="reference")
    n = metrics.n_silos(tr.silos)
    sizes = sorted(int(c) for c in np.bincount(tr.silos[-1]) if c)
    print(json.dumps({"n_silos": [int(n[t]) for t in range(0, 101, 10)], "final_sizes": sizes,
                      "digest": hashlib.sha256(np.ascontiguousarray(tr.weights).tobytes()).hexdigest()}))
""")

_VARIANTS = {
    "unset": {},
    "Prescott": {"OPENBLAS_CORETYPE": "Prescott"},
    "Nehalem": {"OPENBLAS_CORETYPE": "Nehalem"},
    "Sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "Haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "Zen": {"OPENBLAS_CORETYPE": "Zen"},
    "SkylakeX": {"OPENBLAS_CORETYPE": "SkylakeX"},
    "libm without FMA": {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2_Usable,-FMA_Usable,-AVX2,-FMA"},
    "numpy without AVX2": {"NPY_DISABLE_CPU_FEATURES": "AVX2 FMA3 AVX512F AVX512CD AVX512_SKX"},
}


def _run(extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "GLIBC_TUNABLES", "NPY_DISABLE_CPU_FEATURES")}
    env.update(extra)
    env["NUMBA_NUM_THREADS"] = "1"
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True,
                          timeout=600)
    return proc


@pytest.fixture(scope="module")
def runs():
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_run, extra) for name, extra in _VARIANTS.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("variant", list(_VARIANTS))
def test_figure2_published_run_under_every_kernel(runs, variant):
    proc = runs[variant]
    assert proc.returncode == 0, f"{variant}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # the authors' published Figure-2 run (spec Section 9)
    assert out["n_silos"] == [30, 16, 12, 8, 7, 6, 4, 3, 2, 2, 2]
    assert out["final_sizes"] == [1, 29]


def test_every_blas_kernel_gives_the_same_weights_bit_for_bit(runs):
    # The libm variant is left out on purpose: glibc's exp differs by one ulp between its FMA and
    # non-FMA builds for about 1 argument in 2,000, which moves last bits of some weights (the
    # published N(t) and silo sizes above still come out exactly; docs/model.md says so).
    digests = {name: json.loads(p.stdout.strip().splitlines()[-1])["digest"]
               for name, p in runs.items() if p.returncode == 0 and "libm" not in name}
    assert len(digests) == len(_VARIANTS) - 1
    assert len(set(digests.values())) == 1, digests
