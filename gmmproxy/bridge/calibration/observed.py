"""The observed data of a calibration: logged runs grouped by condition, their statistics and scales."""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from gmmproxy.bridge.calibration.model import Condition
from gmmproxy.bridge.calibration.statistics import DEFAULT_TIMES, summary_statistics

__all__ = ["ObservedCondition", "load_logs", "statistic_scales"]


@dataclasses.dataclass
class ObservedCondition:
    """The logged runs of one condition and their per-replicate statistics."""

    condition: Condition
    statistics: dict  # name -> ndarray (replicates,)
    silos: np.ndarray  # (replicates, T, n)
    sources: list
    mirror_fraction: float | None = None  # observed share of mirrored agent-steps, when logs carry flags

    @property
    def replicates(self) -> int:
        return int(self.silos.shape[0])


def _condition_of(traj) -> Condition:
    meta = traj.meta
    p, k = meta.get("p_mirror"), meta.get("n_neighbors")
    if p is None or k is None:
        raise ValueError(f"log {meta.get('log_path')!r} lacks p_mirror / n_neighbors in its run record")
    return Condition(float(p), int(k), int(traj.n_agents), int(traj.n_steps))


def load_logs(logs, times=DEFAULT_TIMES) -> list:
    """Group logs (paths or LLMTrajectory) by condition -> list of :class:`ObservedCondition`.

    A log whose answers all carry a stored label is read with those labels;
    otherwise flowers are extracted from the texts.
    """
    from gmmproxy.bridge.trajectory import LLMTrajectory, from_log

    if isinstance(logs, (str, os.PathLike, LLMTrajectory)):
        logs = [logs]
    logs = list(logs)
    if not logs:
        raise ValueError("logs must name at least one log file")
    from gmmproxy.bridge.flowers import extract_flower
    from gmmproxy.llm.log import read_log

    groups = {}
    for item in logs:
        if isinstance(item, LLMTrajectory):
            traj = item
        else:
            # labels stored in the log when every answer has one, else the flower extractor
            log = read_log(item)
            stored = log.n_steps > 0 and all(lab is not None for lab in log.labels.ravel())
            traj = from_log(log, extractor=None if stored else extract_flower)
        groups.setdefault(_condition_of(traj), []).append(traj)
    out = []
    for cond in sorted(groups, key=lambda c: (c.p_mirror, c.n_neighbors, c.n_agents, c.n_steps)):
        trajs = groups[cond]
        st = summary_statistics(trajs, times, late_times="nan")
        mirror = None
        if all(t.interactions_known for t in trajs):
            mirror = float(np.mean([t.mirrored[1:].mean() for t in trajs]))
        out.append(ObservedCondition(cond, {k: v for k, v in st.items() if k != "n_steps"},
                                     np.stack([t.silos for t in trajs]),
                                     [str(t.meta.get("log_path", "")) for t in trajs], mirror))
    return out


#: floors of the statistic scales (half an agent / half a step; switch rate 0.005; entropy 0.05 bit)
_SCALE_FLOORS = {"time_to_single_silo": 0.5, "reached_single_silo": 0.1, "switch_rate_mean": 0.005,
                 "copy_switch_rate": 0.005, "entropy_final": 0.05}


def statistic_scales(observed, names) -> np.ndarray:
    """Per statistic: pooled within-condition standard deviation of the observed replicates, floored.

    Conditions with a single replicate, or where the statistic is unknown
    (NaN: ``copy_switch_rate`` of logs without mirror flags), do not
    contribute; floors: 0.5 for silo counts and times, 0.1 for the share
    reaching one silo, 0.005 for the switch rates, 0.05 bit for the entropy.
    """
    out = np.empty(len(names))
    for a, nm in enumerate(names):
        num = 0.0
        den = 0
        for oc in observed:
            x = oc.statistics[nm]
            if x.size > 1 and np.all(np.isfinite(x)):
                num += float(((x - x.mean()) ** 2).sum())
                den += x.size - 1
        sd = math.sqrt(num / den) if den else 0.0
        out[a] = max(sd, _SCALE_FLOORS.get(nm, 0.5))
    return out
