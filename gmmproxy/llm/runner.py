"""The "prettiest flower" experiment of McGuinness et al. (2024) with real LLM agents.

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
from dataclasses import dataclass, fields
from typing import Callable, Optional, Sequence

import numpy as np

from gmmproxy._seeding import as_seed_sequence, seed_from_record, seed_record
from gmmproxy._validation import check_float, check_int

from .backend import BackendError, request_seeds

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

#: ``experiment`` field of the run record of a flower run
EXPERIMENT = "flowers"

#: The prompt; ``{memory}`` is replaced by the agent's memory sentence.
DEFAULT_TEMPLATE = (
    "Here is something you remember: {memory}\n"
    "Using what you remember, describe the prettiest flower in one sentence "
    "starting with 'The prettiest flower is'."
)

#: Defaults of the parameters that :func:`run_flowers` takes from the log on resume.
DEFAULTS = {
    "n_steps": 80,
    "p_mirror": 0.2,
    "n_neighbors": 5,
    "temperature": 0.75,
    "max_tokens": 64,
    "template": DEFAULT_TEMPLATE,
    "embedder": "minilm",
}

# backend identity keys that may change between a run and its resumption (a server
# that moved, a log copied elsewhere)
_RELOCATABLE = ("base_url", "source")


# ---------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------


def load_memories(path) -> list:
    """Read initial memory sentences from a file.

    Parameters
    ----------
    path : str or os.PathLike
        Either the published ``RAGs.npz`` (agent ``i``'s flower sentence is
        ``arr_0[i, 1, 0]``) or a UTF-8 text file with one sentence per line (blank
        lines are skipped, surrounding white space stripped).

    Returns
    -------
    list of str
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"memories must be an existing file; got {path!r} (not found)")
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            if "arr_0" not in z.files:
                raise ValueError(f"memories file {path!r} must hold an array 'arr_0' "
                                 f"(the RAGs.npz layout); it holds {z.files}")
            arr = z["arr_0"]
        if arr.ndim != 3 or arr.shape[1] < 2 or arr.shape[2] < 1:
            raise ValueError(f"memories file {path!r}: arr_0 must have shape (n, >=2, >=1) "
                             f"(RAGs.npz layout); got {arr.shape}")
        mems = [str(x).strip() for x in arr[:, 1, 0]]
    else:
        with open(path, encoding="utf-8") as fh:
            mems = [line.strip() for line in fh if line.strip()]
    if not mems:
        raise ValueError(f"memories file {path!r} holds no sentence")
    return mems


def render_prompt(template: str, memory: str) -> str:
    """The prompt of an agent: ``template`` with ``{memory}`` replaced.

    Plain replacement (not ``str.format``), so braces in memories or templates are safe.
    """
    return template.replace("{memory}", memory)


# ---------------------------------------------------------------------------------------
# the update
# ---------------------------------------------------------------------------------------


def nearest_neighbors(embeddings, n_neighbors: int) -> np.ndarray:
    """The ``n_neighbors`` nearest other agents of every agent.

    Parameters
    ----------
    embeddings : array_like, shape (n, D)
    n_neighbors : int
        ``1 <= n_neighbors <= n - 1``.

    Returns
    -------
    ndarray of int, shape (n, n_neighbors)
        Row ``i``: the agents ``j != i`` with the smallest L2 distance to agent ``i``,
        nearest first, ties broken by the smaller index.
    """
    e = np.asarray(embeddings, dtype=np.float64)
    n = e.shape[0]
    out = np.empty((n, n_neighbors), dtype=np.int64)
    for i in range(n):
        # row by row: identical answers get distance exactly 0 (a Gram-matrix formula
        # would leave rounding noise and make their tie order arbitrary), and memory
        # stays O(n D)
        d = np.sqrt(np.sum((e - e[i]) ** 2, axis=1))
        d[i] = np.inf
        out[i] = np.argsort(d, kind="stable")[:n_neighbors]
    return out


def _step_stream(ss: np.random.SeedSequence, t: int, purpose: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (int(t), purpose))


def update_draws(seed, t: int, n_agents: int, n_neighbors: int):
    """The random numbers of the update after step ``t``.

    Returns
    -------
    u : ndarray of float, shape (n_agents,)
        Agent ``i`` mirrors iff ``u[i] < p_mirror``.
    c : ndarray of int, shape (n_agents,)
        Index into agent ``i``'s sorted neighbour list of its partner.
    """
    rng = np.random.Generator(np.random.PCG64(_step_stream(as_seed_sequence(seed), t, 1)))
    u = rng.random(n_agents)
    c = rng.integers(0, n_neighbors, size=n_agents)
    return u, c


def _step_request_seeds(ss, t, n):
    return request_seeds(_step_stream(ss, t, 0), n)


# ---------------------------------------------------------------------------------------
# the parameters object
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FlowerParameters:
    """The recorded parameters of a flower run, each checked once on construction.

    A parameter left as None takes its value from the log's run record when the run is
    resumed and from :data:`DEFAULTS` (or the default named below) otherwise; on resume,
    every parameter that is given must equal the recorded one.

    Parameters
    ----------
    memories : sequence of str, optional
        Initial memory of each agent (default
        :data:`gmmproxy.bridge.flowers.DEFAULT_MEMORIES`); see :func:`load_memories`.
    n_agents : int, optional
        Number of agents, ``>= 2``; the first ``n_agents`` memories are used (default:
        all of them).
    n_steps : int, optional
        Number of steps, ``>= 0`` (default 80).
    p_mirror : float, optional
        Mirroring probability in ``[0, 1]`` (default 0.2).
    n_neighbors : int, optional
        ``k``, in ``[1, n_agents - 1]`` (default 5).
    seed : int, numpy.random.SeedSequence or None
        Run seed. None: fresh entropy for a new run (recorded in the log), the
        recorded seed on resume.
    embedder : str or embedder, optional
        Name for :func:`gmmproxy.llm.embedders.get_embedder` or an object with
        ``.embed(texts) -> (n, D)`` and ``.name`` (default ``"minilm"``). It must be
        deterministic and stateless for resume to be exact.
    extractor : callable, optional
        ``text -> label (str or None)``; default
        :func:`gmmproxy.bridge.flowers.extract_flower`.
    template : str, optional
        Prompt template containing ``{memory}`` (default :data:`DEFAULT_TEMPLATE`).
    temperature : float, optional
        Sampling temperature ``>= 0`` (default 0.75, as in the paper).
    max_tokens : int, optional
        Answer length limit ``>= 1`` (default 64).
    store_embeddings : bool
        Write the embeddings of every answer to the sidecar (new runs only; default True).

    Raises
    ------
    ValueError, TypeError
        A given parameter is out of range or of the wrong type (the message names it).
        Checks that need the final number of agents (``n_neighbors <= n_agents - 1``,
        ``n_agents <= len(memories)``) run when :func:`run_flowers` starts, before it
        writes anything.
    """

    memories: Optional[Sequence[str]] = None
    n_agents: Optional[int] = None
    n_steps: Optional[int] = None
    p_mirror: Optional[float] = None
    n_neighbors: Optional[int] = None
    seed: object = None
    embedder: object = None
    extractor: Optional[Callable] = None
    template: Optional[str] = None
    temperature: Optional[float] = None
    max_tokens: Optional[int] = None
    store_embeddings: bool = True

    def __post_init__(self):
        checked = {
            "n_agents": lambda v: check_int("n_agents", v, 2),
            "n_steps": lambda v: check_int("n_steps", v, 0),
            "p_mirror": lambda v: check_float("p_mirror", v, 0.0, 1.0),
            "n_neighbors": lambda v: check_int("n_neighbors", v, 1),
            "temperature": lambda v: check_float("temperature", v, 0.0),
            "max_tokens": lambda v: check_int("max_tokens", v, 1),
            "template": _check_template,
            "memories": _check_memories,
        }
        for name, check in checked.items():
            value = getattr(self, name)
            if value is not None:
                # frozen: the normalised value (int, float, tuple) replaces the given one
                object.__setattr__(self, name, check(value))
        if self.seed is not None:
            as_seed_sequence(self.seed)  # raises with the usual message
        if self.embedder is not None and not isinstance(self.embedder, str) and not (
                hasattr(self.embedder, "embed") and hasattr(self.embedder, "name")):
            raise TypeError("embedder must be a name (e.g. 'tfidf', 'minilm') or an object "
                            f"with .embed(texts) and .name; got {type(self.embedder).__name__}")
        if self.extractor is not None and not callable(self.extractor):
            raise TypeError(f"extractor must be callable; got {type(self.extractor).__name__}")
        if not isinstance(self.store_embeddings, bool):
            raise TypeError(f"store_embeddings must be a bool; got {self.store_embeddings!r}")


#: the parameters a run records and compares on resume, in the order of the run record
_RECORDED = ("n_steps", "p_mirror", "n_neighbors", "temperature", "max_tokens", "template")


def _check_template(tpl):
    if not isinstance(tpl, str):
        raise TypeError(f"template must be a str; got {type(tpl).__name__}")
    if "{memory}" not in tpl:
        raise ValueError(f"template must contain the placeholder {{memory}}; got {tpl!r}")
    return tpl


def _check_memories(memories):
    if isinstance(memories, str) or not isinstance(memories, Sequence):
        raise TypeError(f"memories must be a list of str; got {type(memories).__name__}")
    mems = tuple(memories)
    for i, m in enumerate(mems):
        if not isinstance(m, str) or not m.strip():
            raise ValueError(f"memories[{i}] must be a non-empty str; got {m!r}")
    return mems


@dataclass(frozen=True)
class _Plan:
    """Everything a step needs, resolved against defaults or the log's run record."""

    n_steps: int
    p_mirror: float
    n_neighbors: int
    temperature: float
    max_tokens: int
    template: str
    seed: np.random.SeedSequence
    embedder: object
    extractor: Callable
    store_embeddings: bool


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


def _one_step(t, memories, backend, plan: _Plan, on_request):
    """Records and embeddings of step ``t``, from the memories before it."""
    seeds = _step_request_seeds(plan.seed, t, len(memories))
    texts = _ask(t, memories, seeds, backend, plan, on_request)
    labels = _labels(t, texts, plan.extractor)
    e = _embed(texts, plan.embedder)
    partners, mirrored = _update(t, e, plan)
    records = [{
        "agent": i,
        "partner": int(partners[i]),
        "mirrored": bool(mirrored[i]),
        "text": texts[i],
        "label": labels[i],
        "memory": memories[i],
        "memory_after": texts[partners[i]],
        "seed": seeds[i],
    } for i in range(len(memories))]
    return records, e


def _ask(t, memories, seeds, backend, plan: _Plan, on_request) -> list:
    """Every agent's answer at step ``t``, checked to be ``n`` strings."""
    n = len(memories)
    prompts = [render_prompt(plan.template, m) for m in memories]
    texts = backend.generate(
        prompts, seed=seeds, temperature=plan.temperature, max_tokens=plan.max_tokens,
        keys=[(t, i) for i in range(n)], callback=on_request,
    )
    if not isinstance(texts, list) or len(texts) != n or not all(isinstance(x, str) for x in texts):
        raise BackendError(f"backend {backend.describe().get('kind', '?')} returned "
                           f"{type(texts).__name__} instead of {n} strings at t={t}")
    return texts


def _labels(t, texts, extractor) -> list:
    """The extractor's label of every answer (a str or None)."""
    labels = []
    for i, x in enumerate(texts):
        lab = extractor(x)
        if lab is not None and not isinstance(lab, str):
            raise TypeError(f"extractor must return a str or None; got {lab!r} for agent {i} at t={t}")
        labels.append(lab)
    return labels


def _embed(texts, embedder) -> np.ndarray:
    """Embeddings of the answers, checked to be a finite (n, D) array."""
    n = len(texts)
    e = np.asarray(embedder.embed(list(texts)), dtype=np.float64)
    if e.ndim != 2 or e.shape[0] != n or e.shape[1] < 1 or not np.all(np.isfinite(e)):
        raise ValueError(f"embedder {embedder.name!r} must return a finite (n_agents={n}, D) "
                         f"array; got shape {e.shape}"
                         + ("" if np.all(np.isfinite(e)) else " with NaN/inf"))
    return e


def _update(t, embeddings, plan: _Plan):
    """Partner and mirror flag of every agent in the update after step ``t``."""
    n = embeddings.shape[0]
    nbrs = nearest_neighbors(embeddings, plan.n_neighbors)
    u, c = update_draws(plan.seed, t, n, plan.n_neighbors)
    mirrored = u < plan.p_mirror
    partners = np.where(mirrored, np.arange(n), nbrs[np.arange(n), c])
    return partners, mirrored
