"""The text-generation protocol every LLM backend implements.

A backend answers a *batch* of prompts at once, because every step of a multi-agent
run asks all agents together and a batch is what servers and local models are fast at.
The protocol is deliberately small: one method, plain strings in and out, plus the
per-request seeds that make a run reproducible where the backend supports it.
"""
from __future__ import annotations

import numbers
from typing import Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = [
    "Backend",
    "BackendError",
    "RequestKey",
    "request_seeds",
    "check_generate_args",
    "one_line",
]

#: ``(t, agent)``: which step and agent a prompt belongs to (the replay backend needs it).
RequestKey = tuple

# OpenAI, vLLM and llama.cpp accept any non-negative 32-bit int as a sampling seed, some
# servers reject larger values; 31 bits keeps every server (and torch) happy.
_SEED_MASK = 0x7FFFFFFF


class BackendError(RuntimeError):
    """A backend could not produce an answer (after its retries, if it retries).

    The message is one line naming where the failure happened (URL, model path or
    replay log) and the last failure seen.
    """


@runtime_checkable
class Backend(Protocol):
    """What the runner needs from an LLM: answer a batch of prompts.

    Attributes
    ----------
    name : str
        Short backend kind (``"openai"``, ``"transformers"``, ``"replay"``).
    """

    name: str

    def generate(
        self,
        prompts: Sequence[str],
        *,
        seed=None,
        temperature: float = 0.75,
        max_tokens: int = 64,
        keys: Optional[Sequence[RequestKey]] = None,
        callback: Optional[Callable[[int], None]] = None,
    ) -> list:
        """Answer every prompt.

        Parameters
        ----------
        prompts : sequence of str
            The batch.
        seed : None, int or sequence of int
            Sampling seed(s): one per prompt, or one int from which per-prompt seeds are
            derived with :func:`request_seeds`, or None (backend default, not
            reproducible).
        temperature : float
            Sampling temperature, >= 0 (0 means greedy where supported).
        max_tokens : int
            Maximum number of generated tokens per answer, >= 1.
        keys : sequence of (t, agent), optional
            Identity of each prompt in the run; backends that do not need it ignore it.
        callback : callable, optional
            Called in the calling thread with the index of each prompt once its answer
            has arrived (for progress bars).

        Returns
        -------
        list of str
            ``len(prompts)`` answers, in prompt order.

        Raises
        ------
        BackendError
            If some answer could not be obtained.
        """
        ...

    def describe(self) -> dict:
        """JSON-friendly identity of the backend (kind, model, ...), stored in run logs."""
        ...

    def close(self) -> None:
        """Release connections / memory."""
        ...


def request_seeds(seed, n: int) -> list:
    """``n`` per-request sampling seeds derived deterministically from ``seed``.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        The parent seed (the runner passes the child stream of one step, so every
        step of a run gets fresh seeds).
    n : int
        Number of requests.

    Returns
    -------
    list of int
        ``n`` seeds in ``[0, 2**31 - 1]``: the first ``n`` 32-bit words of
        ``seed.generate_state`` with the top bit cleared.
    """
    from gmmproxy._seeding import as_seed_sequence

    ss = as_seed_sequence(seed)
    words = ss.generate_state(max(int(n), 1), dtype=np.uint32)[: int(n)]
    return [int(w) & _SEED_MASK for w in words]


def one_line(text, limit: int = 200) -> str:
    """``text`` squeezed onto one line and cut to ``limit`` characters (for errors)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def check_generate_args(prompts, seed, temperature, max_tokens, keys=None):
    """Validate the arguments of :meth:`Backend.generate`; return (prompts, seeds, keys).

    ``seeds`` is a list of per-prompt ints or a list of None.
    """
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of str; got {type(prompts).__name__}")
    prompts = list(prompts)
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise TypeError(f"prompts[{i}] must be a str; got {type(p).__name__}")
    n = len(prompts)
    if seed is None:
        seeds = [None] * n
    elif isinstance(seed, (numbers.Integral, np.random.SeedSequence)) and not isinstance(
        seed, (bool, np.bool_)
    ):
        if isinstance(seed, numbers.Integral) and int(seed) < 0:
            raise ValueError(f"seed must be a non-negative int; got {seed}")
        seeds = request_seeds(seed, n)
    else:
        try:
            seeds = list(seed)
        except TypeError:
            raise TypeError(
                "seed must be None, an int, a SeedSequence or a sequence of ints; "
                f"got {type(seed).__name__}"
            ) from None
        if len(seeds) != n:
            raise ValueError(f"seed must hold one int per prompt ({n}); got {len(seeds)}")
        for i, s in enumerate(seeds):
            if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral) or s < 0:
                raise ValueError(f"seed[{i}] must be a non-negative int; got {s!r}")
        seeds = [int(s) for s in seeds]
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a float; got {temperature!r}")
    if not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite float >= 0; got {temperature}")
    if (
        isinstance(max_tokens, (bool, np.bool_))
        or not isinstance(max_tokens, numbers.Integral)
        or max_tokens < 1
    ):
        raise ValueError(f"max_tokens must be an int >= 1; got {max_tokens!r}")
    if keys is not None:
        keys = [tuple(k) for k in keys]
        if len(keys) != n:
            raise ValueError(f"keys must hold one (t, agent) pair per prompt ({n}); got {len(keys)}")
    return prompts, seeds, keys
