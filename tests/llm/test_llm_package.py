"""The LLM package stays light and exposes its names lazily."""
import subprocess
import sys

import numpy as np
import pytest


def test_import_is_light():
    code = ("import sys, gmmproxy.llm, gmmproxy.llm.runner, gmmproxy.cli.llm; "
            "heavy = [m for m in ('httpx', 'torch', 'transformers', 'sentence_transformers') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_lazy_attributes():
    import gmmproxy.llm as llm
    from gmmproxy.llm.replay_backend import ReplayBackend
    from gmmproxy.llm.runner import run_flowers

    assert llm.ReplayBackend is ReplayBackend and llm.run_flowers is run_flowers
    with pytest.raises(AttributeError):
        llm.no_such_thing


def test_replay_backend_is_a_backend():
    from gmmproxy.llm.backend import Backend
    from gmmproxy.llm.replay_backend import ReplayBackend

    b = ReplayBackend(np.array([["a", "b"], ["c", "d"]], dtype=object))
    assert isinstance(b, Backend)
    seen = []
    assert b.generate(["p", "q"], keys=[(1, 1), (0, 0)], callback=seen.append) == ["d", "a"]
    assert seen == [0, 1]
    with pytest.raises(TypeError, match=r"source text at t=0, agent=1 must be a str"):
        ReplayBackend([["a", None]])
