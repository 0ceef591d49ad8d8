"""Run (or resume) the "prettiest flower" experiment of McGuinness et al. (2024) with real LLM agents.

n agents each hold one memory sentence. At every step every agent is asked to describe
the prettiest flower with its memory as context; then all agents update together: with
probability ``p_mirror`` an agent mirrors (its memory becomes its own answer), otherwise
it copies the answer of a partner drawn uniformly from its ``n_neighbors`` nearest
agents, nearest in the L2 distance between the embeddings of that step's answers.

Randomness. The run seed ``s`` (a ``SeedSequence``) gives step ``t`` two child streams,
``SeedSequence(s.entropy, spawn_key=s.spawn_key + (t, 0))`` for the per-request LLM
seeds (agent ``i`` gets word ``i``, see :func:`gmmproxy.llm.backend.request_seeds`) and
``... + (t, 1)`` for the update: a PCG64 generator draws ``u = random(n)`` then
``c = integers(0, n_neighbors, n)``; agent ``i`` mirrors iff ``u[i] < p_mirror``, else
its partner is the ``c[i]``-th of its neighbours sorted by (distance, index). The draws
never depend on the data, and step ``t`` never depends on earlier draws, so a resumed
run draws exactly what an uninterrupted one does.

Every step is appended to the log (flushed and fsynced) as soon as it is complete; each
record stores the agent's memory after the update (``memory_after``), which is all a
resumed run needs.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import fields
from typing import Callable, Optional

from gmmproxy._seeding import as_seed_sequence, seed_from_record, seed_record

# the run's inputs and its step live in their own modules; their public names are
# re-exported here, where they have always been importable
from ._flower_inputs import (
    _RECORDED,
    DEFAULT_TEMPLATE,
    DEFAULTS,
    EXPERIMENT,
    FlowerParameters,
    _check_memories,
    load_memories,
    render_prompt,
)
from ._flower_step import _one_step, _Plan, nearest_neighbors, update_draws

__all__ = [
    "DEFAULT_TEMPLATE",
    "DEFAULTS",
    "EXPERIMENT",
    "load_memories",
    "render_prompt",
    "nearest_neighbors",
    "update_draws",
    "FlowerParameters",
    "run_flowers",
]

# backend identity keys that may change between a run and its resumption (a server
# that moved, a log copied elsewhere)
_RELOCATABLE = ("base_url", "source")


def _callable_name(f) -> str:
    return f"{getattr(f, '__module__', '?')}:{getattr(f, '__qualname__', type(f).__name__)}"


def _resolve_embedder(embedder):
    if isinstance(embedder, str):
        from .embedders import get_embedder

        return get_embedder(embedder)
    return embedder


def _default_extractor(params: FlowerParameters):
    if params.extractor is not None:
        return params.extractor
    from gmmproxy.bridge.flowers import extract_flower

    return extract_flower


def _identity(backend_desc: dict) -> dict:
    return {k: v for k, v in backend_desc.items() if k not in _RELOCATABLE}


# ---------------------------------------------------------------------------------------
# starting a run: new or resumed
# ---------------------------------------------------------------------------------------


def _start_new(out, backend, params: FlowerParameters, overwrite):
    """The writer, plan and initial memories of a new run (the log is created last)."""
    from .log import LogWriter

    values = {k: (DEFAULTS[k] if getattr(params, k) is None else getattr(params, k))
              for k in _RECORDED}
    if params.memories is None:
        from gmmproxy.bridge.flowers import DEFAULT_MEMORIES

        mems = _check_memories(DEFAULT_MEMORIES)
    else:
        mems = params.memories
    n = len(mems) if params.n_agents is None else params.n_agents
    if n > len(mems):
        raise ValueError(f"n_agents must be <= the number of memories ({len(mems)}); got {n}")
    if n < 2:
        raise ValueError(f"n_agents must be >= 2; got {n} (memories hold {n} sentence)")
    if values["n_neighbors"] > n - 1:
        raise ValueError(f"n_neighbors must be in [1, {n - 1}] (n_agents - 1); "
                         f"got {values['n_neighbors']}")
    extractor = _default_extractor(params)
    emb = _resolve_embedder(params.embedder if params.embedder is not None
                            else DEFAULTS["embedder"])
    ss = as_seed_sequence(params.seed)
    meta = {
        "experiment": EXPERIMENT,
        "n_agents": n,
        **values,
        "memories": list(mems[:n]),
        "seed": seed_record(ss),
        "embedder": str(emb.name),
        "extractor": _callable_name(extractor),
        "backend": backend.describe(),
        "store_embeddings": params.store_embeddings,
    }
    writer = LogWriter(out, meta=meta, overwrite=overwrite)
    plan = _Plan(**values, seed=ss, embedder=emb, extractor=extractor,
                 store_embeddings=params.store_embeddings)
    return writer, plan, list(mems[:n])


def _start_resume(out, backend, params: FlowerParameters):
    """The writer, plan and current memories of a resumed run."""
    from .log import LogWriter, read_log

    if not os.path.exists(out):
        raise ValueError(f"out must be an existing log to resume; got {out!r} (not found)")
    # check against the run record before the writer touches the file
    meta = read_log(out).meta
    extractor = _default_extractor(params)
    _check_resume(out, meta, params, extractor, backend)
    values = {k: meta[k] for k in _RECORDED}
    FlowerParameters(**values)  # a hand-edited record gets the usual messages
    emb = _resolve_embedder(params.embedder if params.embedder is not None else meta["embedder"])
    writer = LogWriter(out, resume=True)
    if writer.completed_steps == 0:
        current = list(meta["memories"])
    else:
        current = [r["memory_after"] for r in writer.last_state]
    store = meta.get("embedding_dim") is not None or (
        writer.completed_steps == 0 and bool(meta.get("store_embeddings", True)))
    plan = _Plan(**values, seed=seed_from_record(meta["seed"]), embedder=emb,
                 extractor=extractor, store_embeddings=store)
    return writer, plan, current


def _check_resume(out, meta, params: FlowerParameters, extractor, backend) -> None:
    """ValueError naming every given parameter that differs from the log's run record."""
    if meta.get("experiment") != EXPERIMENT:
        raise ValueError(f"out {out!r} is not a flower-run log (experiment="
                         f"{meta.get('experiment')!r}); cannot resume it")
    diffs = []
    for key in (*_RECORDED, "n_agents"):
        value = getattr(params, key)
        if value is not None and value != meta[key]:
            diffs.append(f"{key}={value!r} (log: {meta[key]!r})")
    if params.memories is not None:
        if list(params.memories[: meta["n_agents"]]) != list(meta["memories"]):
            diffs.append("memories differ from the log's initial memories")
    if params.seed is not None:
        if seed_record(as_seed_sequence(params.seed)) != meta["seed"]:
            diffs.append(f"seed={params.seed!r} (log: entropy {meta['seed']['entropy']})")
    if params.embedder is not None:
        e = params.embedder
        name = e if isinstance(e, str) else getattr(e, "name", None)
        if name != meta["embedder"]:
            diffs.append(f"embedder={name!r} (log: {meta['embedder']!r})")
    name = _callable_name(extractor)
    if name != meta["extractor"]:
        diffs.append(f"extractor={name!r} (log: {meta['extractor']!r})")
    ident, logged = _identity(backend.describe()), _identity(meta["backend"])
    if ident != logged:
        diffs.append(f"backend={ident!r} (log: {logged!r})")
    if diffs:
        raise ValueError(f"cannot resume {out}: parameters differ from its run record: "
                         + "; ".join(diffs))


# ---------------------------------------------------------------------------------------
# the run: a loop of steps, each ask -> label -> embed -> update
# ---------------------------------------------------------------------------------------

_PARAMETER_NAMES = tuple(f.name for f in fields(FlowerParameters))


def run_flowers(out, backend, parameters: Optional[FlowerParameters] = None, *,
                resume: bool = False, overwrite: bool = False,
                on_start: Optional[Callable[[int, int, int], None]] = None,
                on_request: Optional[Callable[[int], None]] = None,
                on_step: Optional[Callable[[int], None]] = None,
                **legacy_parameters):
    """Run (or resume) the flower experiment, appending every step to a log.

    Parameters
    ----------
    out : str or os.PathLike
        The JSON Lines log to write (embeddings go to ``<out>.emb.f32``).
    backend : Backend
        Answers the prompts (:class:`~gmmproxy.llm.openai_backend.OpenAIBackend`,
        :class:`~gmmproxy.llm.transformers_backend.TransformersBackend`,
        :class:`~gmmproxy.llm.replay_backend.ReplayBackend`).
    parameters : FlowerParameters, optional
        The run's parameters (default ``FlowerParameters()``: every parameter from the
        log on resume, from :data:`DEFAULTS` otherwise).
    resume : bool
        Continue the existing log ``out``: a trailing incomplete step is dropped and the
        run goes on from the first missing step.
    overwrite : bool
        Replace an existing log when not resuming.
    on_start, on_request, on_step : callable, optional
        Progress hooks: ``on_start(n_agents, first_step, n_steps)`` once before the
        first request, ``on_request(i)`` when agent ``i``'s answer arrives,
        ``on_step(t)`` when step ``t`` is saved.
    **legacy_parameters
        Deprecated: the fields of :class:`FlowerParameters` as keywords
        (``run_flowers(out, backend, n_steps=80, ...)``), as before version 0.2. They
        still work and give the same run, with a ``DeprecationWarning``.

    Returns
    -------
    RunLog
        The finished log, as :func:`gmmproxy.llm.log.read_log` returns it.

    Raises
    ------
    ValueError, TypeError
        Invalid parameters, or parameters that differ from the log's on resume.
    BackendError
        The backend failed; every step completed before is in the log.
    """
    from .log import read_log

    parameters = _parameters_of(parameters, legacy_parameters)
    out = os.fspath(out)
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be a bool; got {resume!r}")
    if not (hasattr(backend, "generate") and hasattr(backend, "describe")):
        raise TypeError(f"backend must implement generate() and describe(); "
                        f"got {type(backend).__name__}")
    if resume:
        writer, plan, current = _start_resume(out, backend, parameters)
    else:
        writer, plan, current = _start_new(out, backend, parameters, overwrite)
    with writer:
        if on_start is not None:
            on_start(int(writer.meta["n_agents"]), writer.completed_steps, plan.n_steps)
        for t in range(writer.completed_steps, plan.n_steps):
            records, embeddings = _one_step(t, current, backend, plan, on_request)
            writer.append_step(t, records, embeddings if plan.store_embeddings else None)
            current = [r["memory_after"] for r in records]
            if on_step is not None:
                on_step(t)
    return read_log(out)


def _parameters_of(parameters, legacy: dict) -> FlowerParameters:
    """The parameters object of a call, new style or the deprecated keywords."""
    unknown = sorted(set(legacy) - set(_PARAMETER_NAMES))
    if unknown:
        raise TypeError(f"run_flowers() got unexpected keyword argument(s) {unknown}; "
                        f"parameters are {list(_PARAMETER_NAMES)}")
    if legacy:
        if parameters is not None:
            raise TypeError("run_flowers() takes either a FlowerParameters object or "
                            f"parameters as keywords, not both; got both and {sorted(legacy)}")
        warnings.warn("run_flowers(out, backend, n_steps=..., ...) is deprecated; pass "
                      "run_flowers(out, backend, FlowerParameters(n_steps=..., ...))",
                      DeprecationWarning, stacklevel=3)
        return FlowerParameters(**legacy)
    if parameters is None:
        return FlowerParameters()
    if not isinstance(parameters, FlowerParameters):
        raise TypeError(f"parameters must be a FlowerParameters; got {type(parameters).__name__}")
    return parameters

