"""Backend that answers with the responses of an existing log.

Request ``(t, agent)`` gets the text agent ``agent`` gave at step ``t`` of the log.
Re-running the runner on a replayed log with the run's own parameters reproduces the
log exactly (a check of the runner's determinism); with other parameters (another
embedder, another ``n_neighbors``) it re-analyses the same answers.
"""
from __future__ import annotations

import os

import numpy as np

from .backend import BackendError, check_generate_args

__all__ = ["ReplayBackend"]


class ReplayBackend:
    """Serve logged responses by ``(t, agent)``.

    Parameters
    ----------
    source : str, os.PathLike, RunLog or array_like of str, shape (T, n)
        A log written by :class:`gmmproxy.llm.log.LogWriter` (path or the object
        :func:`gmmproxy.llm.log.read_log` returns) or a table of texts ``[t][agent]``.
    """

    name = "replay"

    def __init__(self, source):
        if isinstance(source, (str, os.PathLike)):
            from .log import read_log

            log = read_log(source)
            self.source = os.fspath(source)
            texts = log.texts
        elif hasattr(source, "texts") and hasattr(source, "meta"):
            self.source = str(getattr(source, "path", "<log>"))
            texts = source.texts
        else:
            self.source = "<array>"
            texts = np.asarray(source, dtype=object)
        if texts.ndim != 2:
            raise ValueError(f"source texts must be a (T, n_agents) table; got shape {texts.shape}")
        for (t, a), x in np.ndenumerate(texts):
            if not isinstance(x, str):
                raise TypeError(f"source text at t={t}, agent={a} must be a str; got {x!r}")
        self.texts = texts

    @property
    def n_steps(self) -> int:
        return int(self.texts.shape[0])

    @property
    def n_agents(self) -> int:
        return int(self.texts.shape[1])

    def describe(self) -> dict:
        return {"kind": self.name, "source": self.source}

    def close(self) -> None:
        pass

    def generate(self, prompts, *, seed=None, temperature: float = 0.75,
                 max_tokens: int = 64, keys=None, callback=None) -> list:
        """Return the logged text of each ``(t, agent)`` in ``keys`` (prompts are ignored).

        Raises
        ------
        ValueError
            If ``keys`` is missing.
        BackendError
            If the log has no response for some key.
        """
        prompts, _, keys = check_generate_args(prompts, seed, temperature, max_tokens, keys)
        if keys is None:
            raise ValueError("keys must give (t, agent) for every prompt: the replay backend "
                             "serves responses by step and agent; got None")
        T, n = self.texts.shape
        out = []
        for i, (t, a) in enumerate(keys):
            if not (0 <= t < T and 0 <= a < n):
                raise BackendError(
                    f"replay of {self.source} has no response for t={t}, agent={a} "
                    f"(it holds {T} steps of {n} agents)"
                )
            out.append(self.texts[t, a])
            if callback is not None:
                callback(i)
        return out
