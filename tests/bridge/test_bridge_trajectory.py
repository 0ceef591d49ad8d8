"""Log -> LLMTrajectory: integer silos in the proxy's conventions."""
import numpy as np
import pytest

from gmmproxy import metrics
from gmmproxy.bridge.flowers import ALL_FLOWERS, FLOWERS
from gmmproxy.bridge.trajectory import UNLABELLED, LLMTrajectory, embed_trajectory, from_log
from gmmproxy.llm.log import LogWriter, read_log

TEXTS = [
    [" The prettiest flower is the rose.", " The prettiest flower is the tulip.",
     " The prettiest flower is the calla lily.", " The prettiest flower is nothing."],
    [" The prettiest flower is the tulip.", " The prettiest flower is the tulip.",
     " The prettiest flower is the jasmine.", " The prettiest flower is the jasmine."],
]


def _log(tmp_path, embeddings=False):
    p = tmp_path / "run.jsonl"
    with LogWriter(p, meta=dict(n_agents=4, p_mirror=0.2)) as w:
        for t, row in enumerate(TEXTS):
            recs = [dict(agent=i, partner=None, mirrored=True, text=x, label=f"L{t}{i % 2}")
                    for i, x in enumerate(row)]
            w.append_step(t, recs, embeddings=np.eye(4)[:, :3] + t if embeddings else None)
    return p


def test_flower_labels_follow_all_flowers(tmp_path):
    traj = from_log(_log(tmp_path))
    assert isinstance(traj, LLMTrajectory)
    assert traj.silos.dtype == np.int64 and traj.silos.shape == (2, 4)
    assert traj.label_names[: len(ALL_FLOWERS)] == ALL_FLOWERS
    assert traj.label_names[-1] == UNLABELLED and traj.meta["n_unlabelled"] == 1
    idx = {name: i for i, name in enumerate(traj.label_names)}
    want = [[idx["rose"], idx["tulip"], idx["calla lily"], idx[UNLABELLED]],
            [idx["tulip"], idx["tulip"], idx["jasmine"], idx["jasmine"]]]
    np.testing.assert_array_equal(traj.silos, want)
    assert traj.labels[1, 2] == "jasmine"
    assert traj.used_labels() == ("rose", "tulip", "calla lily", "jasmine", UNLABELLED)
    # the core metrics apply unchanged
    np.testing.assert_array_equal(metrics.n_silos(traj.silos), [4, 2])
    assert traj.embeddings is None and traj.meta["p_mirror"] == 0.2


def test_stored_labels_and_custom_extractor(tmp_path):
    p = _log(tmp_path)
    traj = from_log(read_log(p), extractor=None)  # labels as stored in the log
    assert traj.label_names == ("L00", "L01", "L10", "L11")
    np.testing.assert_array_equal(traj.silos, [[0, 1, 0, 1], [2, 3, 2, 3]])
    assert traj.meta["label_source"] == "log"
    # any extractor: vocabulary in order of first appearance (step, then agent)
    traj = from_log(p, extractor=lambda s: s.split()[-1].rstrip("."))
    assert traj.label_names == ("rose", "tulip", "lily", "nothing", "jasmine")
    traj = from_log(p, extractor=None, label_names=["L11", "L10", "L01", "L00"])
    np.testing.assert_array_equal(traj.silos, [[3, 2, 3, 2], [1, 0, 1, 0]])
    with pytest.raises(ValueError, match="missing"):
        from_log(p, extractor=None, label_names=["L00"])
    with pytest.raises(TypeError, match="extractor"):
        from_log(p, extractor=42)
    with pytest.raises(TypeError, match="path_or_runlog"):
        from_log(3.5)


def test_embeddings_from_sidecar_or_embedder(tmp_path):
    traj = from_log(_log(tmp_path, embeddings=True))
    E, source = embed_trajectory(traj)
    assert source == "log" and E.shape == (2, 4, 3)
    np.testing.assert_allclose(E[1], np.eye(4)[:, :3] + 1)
    E, source = embed_trajectory(traj, "tfidf")
    assert source == "tfidf" and E.shape[:2] == (2, 4)
    # identical answers get identical vectors, different ones do not
    np.testing.assert_array_equal(E[1, 0], E[1, 1])
    np.testing.assert_array_equal(E[0, 1], E[1, 0])
    assert np.linalg.norm(E[1, 0] - E[1, 2]) > 0.1


def test_published_run_starts_with_the_agents_own_flowers(imported_logs):
    traj = from_log(imported_logs[(2, 1, 0)])
    assert traj.silos.shape == (80, 30) and traj.meta["n_unlabelled"] == 0
    # label i < 30 is FLOWERS[i], agent i's starting flower: at t = 0 (almost) every
    # agent names its own memory's flower
    assert np.mean(traj.silos[0] == np.arange(30)) >= 0.9
    assert traj.silos.max() < len(FLOWERS)
