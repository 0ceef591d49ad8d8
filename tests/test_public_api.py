"""The public API: every name the README and docs show resolves, package roots re-export what they list, old paths still work and warn."""
import importlib
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: packages whose ``__all__`` is public API (earlier issues name them)
PUBLIC_PACKAGES = [
    "gmmproxy", "gmmproxy.metrics", "gmmproxy.topology", "gmmproxy.config", "gmmproxy.trajectory",
    "gmmproxy.chain", "gmmproxy.polarization", "gmmproxy.reference", "gmmproxy.plotting",
    "gmmproxy.perspective", "gmmproxy.llm", "gmmproxy.llm.log", "gmmproxy.llm.runner",
    "gmmproxy.llm.embedders", "gmmproxy.bridge.flowers", "gmmproxy.bridge.importer",
    "gmmproxy.bridge.trajectory", "gmmproxy.sweeps", "theory",
]

#: names issues 1-10 promised by name (a doc rewrite must not lose them silently)
PROMISED = [
    "gmmproxy.SimulationConfig", "gmmproxy.simulate", "gmmproxy.simulate_many",
    "gmmproxy.Trajectory", "gmmproxy.Ensemble", "gmmproxy.metrics.n_silos",
    "gmmproxy.metrics.time_to_single_silo", "gmmproxy.topology.intra_class",
    "gmmproxy.plotting.plot_silos", "gmmproxy.plotting.save_figure",
    "gmmproxy.perspective.perspective_space", "gmmproxy.perspective.iso_mirror",
    "gmmproxy.perspective.cluster_steps", "gmmproxy.llm.run_flowers", "gmmproxy.llm.OpenAIBackend",
    "gmmproxy.llm.ReplayBackend", "gmmproxy.llm.FlowerParameters", "gmmproxy.llm.log.read_log",
    "gmmproxy.bridge.trajectory.from_log", "gmmproxy.chain.simulate_chain",
    "gmmproxy.sweeps.sweep", "gmmproxy.sweeps.sweep_summary", "theory.theorem1_q",
    "theory.theorem2_bound", "theory.bound_table", "theory.theorem2_montecarlo",
]


_FILE_SUFFIXES = {"md", "py", "png", "pdf", "svg", "csv", "npz", "json", "jsonl", "txt", "toml"}


def _documented_names():
    """Dotted names (``gmmproxy.x.y``, ``theory.x``) in the README and docs, and ``from .. import`` lists."""
    names = set()
    for f in DOCS:
        text = f.read_text(encoding="utf-8")
        for m in re.finditer(r"(?<![\w/.-])((?:gmmproxy|theory)(?:\.[A-Za-z_]\w*)+)(?![\w/-])", text):
            if m.group(1).rsplit(".", 1)[1] not in _FILE_SUFFIXES:  # docs/theory.md is a file
                names.add(m.group(1))
        for m in re.finditer(r"^\s*from ((?:gmmproxy|theory)[\w.]*) import (\([^)]*\)|[^\n]+)", text, re.M):
            for n in re.split(r"[(),\s]+", m.group(2)):
                if re.fullmatch(r"[A-Za-z_]\w*", n or "") and n != "as":
                    names.add(f"{m.group(1)}.{n}")
    return sorted(names)


def _resolve(dotted):
    """Import the longest module prefix of ``dotted``, then follow attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError as exc:
            if exc.name and not exc.name.startswith(("gmmproxy", "theory")):
                pytest.skip(f"{dotted} needs an optional dependency ({exc.name})")
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


DOCUMENTED = _documented_names()


def test_docs_name_a_reasonable_set():
    # the extraction itself must find the quick-start names, or the next test tests nothing
    assert {"gmmproxy.simulate", "gmmproxy.SimulationConfig", "gmmproxy.metrics.n_silos"} <= set(DOCUMENTED)
    assert len(DOCUMENTED) > 30


@pytest.mark.parametrize("dotted", DOCUMENTED)
def test_every_documented_name_resolves(dotted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old paths are documented as such
        assert _resolve(dotted) is not None


@pytest.mark.parametrize("dotted", PROMISED)
def test_promised_names_resolve(dotted):
    assert _resolve(dotted) is not None


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_all_lists_only_names_that_exist(package):
    mod = importlib.import_module(package)
    listed = getattr(mod, "__all__", None)
    assert listed, f"{package} has no __all__"
    missing = [n for n in listed if not hasattr(mod, n)]
    assert not missing, f"{package}.__all__ lists missing names {missing}"


@pytest.mark.parametrize("package", ["gmmproxy", "gmmproxy.plotting", "gmmproxy.perspective",
                                     "gmmproxy.llm", "gmmproxy.sweeps", "theory"])
def test_no_public_function_shadows_a_module(package):
    # e.g. gmmproxy.simulate (function) once hid gmmproxy/simulate.py; now the module is _simulate
    mod = importlib.import_module(package)
    here = Path(mod.__file__).parent
    for name in mod.__all__:
        obj = getattr(mod, name)
        if callable(obj) and not isinstance(obj, type(sys)):
            assert not (here / f"{name}.py").exists() and not (here / name / "__init__.py").exists(), \
                f"{package}.{name} is a function but {package}/{name} is also a module"


def test_root_exports_are_the_objects_of_their_modules():
    import gmmproxy
    from gmmproxy import _simulate, config, trajectory

    assert gmmproxy.simulate is _simulate.simulate and gmmproxy.simulate_many is _simulate.simulate_many
    assert gmmproxy.SimulationConfig is config.SimulationConfig
    assert gmmproxy.Trajectory is trajectory.Trajectory and gmmproxy.Ensemble is trajectory.Ensemble
    from gmmproxy.perspective.isomirror import iso_mirror

    assert gmmproxy.perspective.iso_mirror is iso_mirror


def test_quick_start_runs_and_gives_a_silo_count():
    # the README quick start, small: a working call path, not just importable names
    import gmmproxy

    cfg = gmmproxy.SimulationConfig(n_agents=6, n_components=6, sigma=0.2, rag_size=2,
                                    p_mirror=0.4, n_neighbors=5)
    traj = gmmproxy.simulate(cfg, steps=3, seed=1, engine="reference")
    n = gmmproxy.metrics.n_silos(traj.silos)
    assert n.shape == (4,) and n[0] == len(np.unique(traj.silos[0])) and 1 <= n.min() <= n.max() <= 6


# ---------------------------------------------------------------------------------------
# old paths
# ---------------------------------------------------------------------------------------


def test_old_bridge_cli_path_warns_and_reaches_the_new_commands():
    sys.modules.pop("gmmproxy.bridge.cli", None)
    with pytest.warns(DeprecationWarning, match="gmmproxy.cli.bridge"):
        old = importlib.import_module("gmmproxy.bridge.cli")
    from gmmproxy.cli import bridge

    assert old.silo_report is bridge.silo_report and old.import_command is bridge.import_command


def test_old_simulate_module_path_warns_and_reaches_the_private_module():
    import gmmproxy
    from gmmproxy import _simulate

    with pytest.warns(DeprecationWarning, match="gmmproxy.simulate is deprecated"):
        from gmmproxy.simulate import simulate_many as old_many
    with pytest.warns(DeprecationWarning):
        old_modes = importlib.import_module("gmmproxy.simulate").RECORD_MODES
    assert old_many is _simulate.simulate_many and old_modes == _simulate.RECORD_MODES
    # the package attribute stays the function: the old module shadows nothing
    assert gmmproxy.simulate is _simulate.simulate
    with pytest.raises(AttributeError):
        importlib.import_module("gmmproxy.simulate").no_such_name


@pytest.mark.parametrize("old, new, name", [("gmmproxy.simulate_cli", "gmmproxy.cli.simulate", "simulate_command"),
                                             ("gmmproxy.llm.cli", "gmmproxy.cli.llm", "llm_group")])
def test_old_command_module_paths_warn_and_reach_the_cli_package(old, new, name):
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated; use {new}"):
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), name)


def test_old_sweep_paths_still_import():
    import gmmproxy.plotting
    import gmmproxy.sweeps
    from gmmproxy.sweep import sweep as old_sweep  # noqa: F401  (the old spelling must import)

    assert gmmproxy.plotting.sweep_summary is gmmproxy.sweeps.sweep_summary
    assert callable(old_sweep)


def test_run_flowers_keywords_warn(tmp_path):
    from gmmproxy.llm import FlowerParameters, ReplayBackend, run_flowers

    texts = np.array([[" The prettiest flower is the rose.", " The prettiest flower is the lily."]],
                     dtype=object)
    kw = dict(n_agents=2, n_steps=1, n_neighbors=1, embedder="tfidf", seed=0)
    with pytest.warns(DeprecationWarning, match="FlowerParameters"):
        old = run_flowers(tmp_path / "a.jsonl", ReplayBackend(texts), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new = run_flowers(tmp_path / "b.jsonl", ReplayBackend(texts), FlowerParameters(**kw))
    assert old.records == new.records
