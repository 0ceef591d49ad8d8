"""Importing the published CSV logs of the flower experiment."""
import ast
import csv
import shutil

import numpy as np
import pytest

from gmmproxy import metrics
from gmmproxy.bridge.flowers import FLOWERS
from gmmproxy.bridge.importer import (find_published_runs, import_published,
                                      parse_published_name, read_published_csv)
from gmmproxy.bridge.trajectory import from_log
from gmmproxy.llm.log import read_log


def _csv_texts(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return [[ast.literal_eval(c)[0] for c in row[1:]] for row in rows[1:]]


def test_parse_published_name():
    assert parse_published_name("output2_15_3.csv") == (2, 15, 3, False)
    assert parse_published_name("/x/output7_1_0_2nd.csv") == (7, 1, 0, True)
    assert parse_published_name("RAGs.npz") is None
    assert parse_published_name("output2_15.csv") is None


def test_all_published_runs_import_completely(imported_logs, flower_data_dir):
    assert len(imported_logs) == 32
    assert {k[:2] for k in imported_logs} == {(p, k) for p in (2, 7) for k in (1, 5, 15, 25)}
    for (P, K, V), path in imported_logs.items():
        log = read_log(path)
        assert (log.n_steps, log.n_agents) == (80, 30)
        assert log.meta["p_mirror"] == P / 10 and log.meta["n_neighbors"] == K
        assert log.meta["replicate"] == V
        assert log.meta["source_files"] == [f"output{P}_{K}_{V}.csv", f"output{P}_{K}_{V}_2nd.csv"]
        # 100% extraction, every label one of the starting flowers
        assert all(lab in FLOWERS for lab in log.labels.ravel())
        # the published logs record no partners; the mirror flags are recovered
        # (tests/bridge/test_mirror_recovery.py) for every step but the last
        assert not log.interactions_known and log.mirrors_known
        assert np.all(log.partners == -1)
        assert all(r["partner"] is None for r in log.records)
        assert all(r["mirrored"] is None for r in log.records[-30:])


def test_texts_are_the_published_ones_in_order(imported_logs, flower_data_dir):
    log = read_log(imported_logs[(7, 5, 2)])
    first = _csv_texts(flower_data_dir / "output7_5_2.csv")
    second = _csv_texts(flower_data_dir / "output7_5_2_2nd.csv")
    want = np.array(first + second, dtype=object)
    assert want.shape == (80, 30)
    assert (log.texts == want).all()


def test_imported_silo_dynamics_match_the_published_description(imported_logs):
    # README: k = 1 freezes into many silos; k = 15 and 25 reach a single silo;
    # higher p slows consensus at k = 25
    silos = {key: from_log(p, extractor=None).silos for key, p in imported_logs.items()}
    final = {key: int(metrics.n_silos(s)[-1]) for key, s in silos.items()}
    t_one = {key: int(metrics.time_to_single_silo(s)) for key, s in silos.items()}
    assert all(final[(P, 1, V)] >= 5 for P in (2, 7) for V in range(4))
    assert all(final[(P, K, V)] == 1 for P in (2, 7) for K in (15, 25) for V in range(4))
    mean_t = {P: np.mean([t_one[(P, 25, V)] for V in range(4)]) for P in (2, 7)}
    assert mean_t[7] > mean_t[2] + 15


def test_find_runs_errors(tmp_path, flower_data_dir):
    shutil.copy(flower_data_dir / "output2_1_0.csv", tmp_path)
    with pytest.raises(ValueError, match="missing its other half 'output2_1_0_2nd.csv'"):
        find_published_runs(tmp_path)
    shutil.copy(flower_data_dir / "output2_1_0_2nd.csv", tmp_path)
    assert list(find_published_runs(tmp_path)) == [(2, 1, 0)]
    (tmp_path / "notes.csv").write_text("x\n")
    with pytest.raises(ValueError, match="not a published flower CSV"):
        find_published_runs([tmp_path / "notes.csv"])
    with pytest.raises(ValueError, match="does not exist"):
        find_published_runs([tmp_path / "nope.csv"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no published flower CSV"):
        find_published_runs([tmp_path / "empty"])


def test_import_refuses_to_overwrite_without_partial_writes(tmp_path, flower_data_dir):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("output2_1_0.csv", "output2_1_0_2nd.csv", "output2_1_1.csv", "output2_1_1_2nd.csv"):
        shutil.copy(flower_data_dir / name, src)
    out = tmp_path / "out"
    paths = import_published(src, out)
    assert len(paths) == 2
    (out / "flowers_p2_k1_v0.jsonl").unlink()
    with pytest.raises(ValueError, match="overwrite"):
        import_published(src, out)
    assert not (out / "flowers_p2_k1_v0.jsonl").exists()  # nothing written on refusal
    assert len(import_published(src, out, overwrite=True)) == 2


def test_read_published_csv_rejects_bad_layout(tmp_path):
    bad = tmp_path / "output2_1_0.csv"
    bad.write_text(",0,1\n0,\"['a']\",\"not a list\"\n")
    with pytest.raises(ValueError, match="step 0, agent 1"):
        read_published_csv(bad)
    bad.write_text(",0,1\n3,\"['a']\",\"['b']\"\n")
    with pytest.raises(ValueError, match="must be step 0"):
        read_published_csv(bad)
