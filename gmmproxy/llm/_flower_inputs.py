"""Inputs of the flower run: its defaults, the prompt, the initial memories and :class:`FlowerParameters`."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from gmmproxy._seeding import as_seed_sequence
from gmmproxy._validation import check_float, check_int

__all__ = ["DEFAULT_TEMPLATE", "DEFAULTS", "EXPERIMENT", "FlowerParameters", "load_memories",
           "render_prompt"]

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

