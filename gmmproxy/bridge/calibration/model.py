"""The calibrated proxy: its free parameters, their priors, and the map from an LLM condition to the proxy.

A *condition* of an LLM experiment is ``(p_mirror, n_neighbors, n_agents,
n_steps)``. Given one value of the calibration parameters, every condition
is simulated by the batched kernel (:mod:`gmmproxy._kernels.batched`) with

* ``sigma`` -- spread of the components (standard deviation on the paper's
  unit-spaced 1-d topics, or a factor on the given covariances);
* ``rag_size`` -- the RAG size r (sampled as a continuous value and
  rounded to the nearest integer, so ABC's continuous kernels apply);
* ``time_scale`` tau -- expected proxy actions per agent per LLM step:
  ``M = ceil(tau)`` rounds per step, in each of which every agent acts
  with probability ``a = tau / M`` (random activation), so fractional
  values are meaningful and tau = 1 is the paper's one round per step;
* ``p_exponent`` gamma -- the mirroring map ``p_proxy = p_llm ** gamma``
  (monotone, fixes 0 and 1; gamma > 1 lowers p, gamma < 1 raises it);
* ``k_scale`` -- the neighbourhood map ``k_proxy = round(k_llm * k_scale)``
  clipped to ``[1, n-1]`` (fixed to 1, the identity, unless freed);
* ``log10_eps`` -- the weight floor eps of the EM step (fixed to -12, the
  paper's, unless freed).

The partner's answer is drawn either from its pseudo-updated weights (the
paper, ``answer_from="pseudo_update"``) or from its current weights
(``answer_from="current"``, the calibration's default; see docs/model.md).
"""
from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

__all__ = ["PARAMETERS", "DEFAULT_FREE", "ProxyModel", "Condition", "BASELINE"]

#: name -> (default prior low, high, "log" or "linear", default fixed value, description)
PARAMETERS = {
    "sigma": (0.05, 0.5, "log", 0.2, "component standard deviation (topic spacing 1)"),
    "rag_size": (0.5, 3.499, "linear", 5, "RAG size r (rounded)"),
    "time_scale": (0.5, 2.5, "log", 1.0, "proxy actions per agent per LLM step"),
    "p_exponent": (0.25, 4.0, "log", 1.0, "p_proxy = p_llm ** p_exponent"),
    "k_scale": (0.25, 2.0, "log", 1.0, "k_proxy = round(k_llm * k_scale)"),
    "log10_eps": (-15.0, -3.0, "linear", -12.0, "log10 of the EM weight floor eps"),
}

#: parameters free by default
DEFAULT_FREE = ("sigma", "rag_size", "time_scale", "p_exponent")

_ANSWERS = ("current", "pseudo_update")


@dataclasses.dataclass(frozen=True)
class Condition:
    """One condition of an LLM experiment: the settings its replicate runs share."""

    p_mirror: float
    n_neighbors: int
    n_agents: int
    n_steps: int

    @property
    def key(self) -> str:
        return f"p{self.p_mirror:g}_k{self.n_neighbors}"


@dataclasses.dataclass(frozen=True)
class ProxyModel:
    """Which parameters are free, their priors, the fixed values of the others.

    Parameters
    ----------
    free : sequence of str
        Free parameters (default :data:`DEFAULT_FREE`), names of :data:`PARAMETERS`.
    priors : dict, optional
        name -> (low, high) of a uniform prior (log-uniform for the parameters
        marked "log" in :data:`PARAMETERS`); defaults from :data:`PARAMETERS`.
    fixed : dict, optional
        name -> value for parameters that are not free (defaults from
        :data:`PARAMETERS`: the paper's sigma 0.2, r 5, tau 1, identity maps, eps 1e-12).
    answer_from : {"current", "pseudo_update"}
        Whose weights the partner answers from (see module docstring).
    """

    free: tuple = DEFAULT_FREE
    priors: dict = dataclasses.field(default_factory=dict)
    fixed: dict = dataclasses.field(default_factory=dict)
    answer_from: str = "current"

    def __post_init__(self):
        free = tuple(self.free)
        unknown = [f for f in free if f not in PARAMETERS]
        if unknown:
            raise ValueError(f"free parameters must be among {sorted(PARAMETERS)}; got {unknown}")
        if len(set(free)) != len(free):
            raise ValueError(f"free parameters must not repeat; got {list(free)}")
        object.__setattr__(self, "free", free)
        priors = {}
        for name in free:
            lo, hi, scale, _, _ = PARAMETERS[name]
            if name in self.priors:
                lo, hi = (float(v) for v in self.priors[name])
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"prior of {name} must be a finite interval (low < high); got ({lo}, {hi})")
            if scale == "log" and lo <= 0:
                raise ValueError(f"prior of {name} is log-uniform and needs low > 0; got {lo}")
            priors[name] = (lo, hi)
        extra = set(self.priors) - set(free)
        if extra:
            raise ValueError(f"priors given for parameters that are not free: {sorted(extra)}")
        object.__setattr__(self, "priors", priors)
        fixed = {name: spec[3] for name, spec in PARAMETERS.items() if name not in free}
        for name, value in self.fixed.items():
            if name not in PARAMETERS:
                raise ValueError(f"fixed parameters must be among {sorted(PARAMETERS)}; got {name!r}")
            if name in free:
                raise ValueError(f"{name} is free and cannot also be fixed")
            fixed[name] = float(value)
        object.__setattr__(self, "fixed", fixed)
        if self.answer_from not in _ANSWERS:
            raise ValueError(f"answer_from must be one of {_ANSWERS}; got {self.answer_from!r}")
        self.proxy_settings(dict(fixed, **{f: self.priors[f][0] for f in free}), Condition(0.5, 1, 30, 2))

    # ------------------------------------------------------------------ priors
    def prior_scale(self, name: str) -> str:
        return PARAMETERS[name][2]

    def sample_prior(self, size: int, rng) -> dict:
        """``size`` draws from the prior, name -> ndarray (size,)."""
        out = {}
        for name in self.free:
            lo, hi = self.priors[name]
            if self.prior_scale(name) == "log":
                out[name] = np.exp(rng.uniform(math.log(lo), math.log(hi), size))
            else:
                out[name] = rng.uniform(lo, hi, size)
        return out

    def to_dict(self) -> dict:
        return {"free": list(self.free), "priors": {k: list(v) for k, v in self.priors.items()},
                "fixed": dict(self.fixed), "answer_from": self.answer_from}

    @classmethod
    def from_dict(cls, d: dict) -> "ProxyModel":
        return cls(free=tuple(d["free"]), priors={k: tuple(v) for k, v in d["priors"].items()},
                   fixed={k: v for k, v in d["fixed"].items() if k not in PARAMETERS or
                          v != PARAMETERS[k][3]},
                   answer_from=d["answer_from"])

    # ------------------------------------------------------------------ the map
    def full(self, theta: dict) -> dict:
        """All parameter values: the free ones from ``theta``, the others fixed."""
        missing = [f for f in self.free if f not in theta]
        if missing:
            raise ValueError(f"theta lacks the free parameters {missing}")
        return dict(self.fixed, **{f: float(theta[f]) for f in self.free})

    def proxy_settings(self, theta: dict, cond: Condition) -> dict:
        """Kernel settings (keywords of ``simulate_batch``) for one condition at one parameter value."""
        v = dict(self.fixed, **{k: float(val) for k, val in theta.items() if k in PARAMETERS})
        n = cond.n_agents
        tau = float(v["time_scale"])
        if not tau > 0:
            raise ValueError(f"time_scale must be > 0; got {tau}")
        rounds = max(1, math.ceil(tau - 1e-12))
        r = int(math.floor(v["rag_size"] + 0.5))  # round half up (Python rounds 0.5 to 0)
        if r < 1:
            raise ValueError(f"rag_size must round to an integer >= 1; got {v['rag_size']}")
        k = int(min(n - 1, max(1, round(cond.n_neighbors * v["k_scale"]))))
        return dict(
            p_mirror=float(cond.p_mirror) ** float(v["p_exponent"]),
            n_neighbors=k, sigma=float(v["sigma"]), rag_size=r, rounds_per_step=rounds,
            activation=min(1.0, tau / rounds), eps=10.0 ** float(v["log10_eps"]),
            answer_current=self.answer_from == "current",
        )


#: the paper's default proxy (sigma 0.2, r 5, one round per step, identity p and k, eps 1e-12)
BASELINE = ProxyModel(free=(), answer_from="pseudo_update")


def check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)
