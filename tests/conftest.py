"""Shared fixtures of the test suite: the published flower logs (used by tests/bridge and tests/cli).

This folder is on ``sys.path`` (pytest's default import mode inserts the folder of each
conftest.py), so shared helpers such as ``llm_fake_server`` import from any test folder.
Because of that, no test folder may carry the name of a top-level package of the project
(``gmmproxy``, ``theory``, ``experiments``): under a plain ``pytest`` (which, unlike ``python -m
pytest``, does not put the working directory on the path) the folder would be imported as a
namespace package in its place. The theory tests therefore live in ``tests/theory_tests``.
"""
import os
from pathlib import Path

import pytest

# The published CSVs are not part of the repository; point GMMPROXY_FLOWER_DATA at a copy.
FLOWER_DATA = Path(os.environ.get("GMMPROXY_FLOWER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "llm-flowers"))


@pytest.fixture(scope="session")
def flower_data_dir():
    if not FLOWER_DATA.is_dir() or not any(FLOWER_DATA.glob("output*_2nd.csv")):
        pytest.skip(f"published flower logs not found at {FLOWER_DATA} (set GMMPROXY_FLOWER_DATA)")
    return FLOWER_DATA


@pytest.fixture(scope="session")
def imported_logs(flower_data_dir, tmp_path_factory):
    """All published runs converted once per test session: {(P, K, V): log path}."""
    from gmmproxy.bridge.importer import import_published

    out = tmp_path_factory.mktemp("imported")
    paths = import_published(flower_data_dir, out)
    logs = {}
    for p in paths:
        name = Path(p).name  # flowers_p{P}_k{K}_v{V}.jsonl
        P, K, V = (int(x[1:]) for x in name[len("flowers_"):-len(".jsonl")].split("_"))
        logs[(P, K, V)] = p
    return logs
