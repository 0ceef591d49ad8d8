"""The one-line progress display of a calibration fit on stderr."""
from __future__ import annotations

import sys
import time


class _Progress:
    """One status line on stderr: generation, simulations, threshold, acceptance, elapsed time."""

    def __init__(self, enabled: bool, label: str, generations: int):
        self.enabled = enabled
        self.label = label
        self.generations = generations
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.gen = 0
        self.sims = 0
        self.eps = float("nan")

    history = None

    def tick(self, sims=1, force=False):
        self.sims += sims
        now = time.perf_counter()
        if self.enabled and (force or now - self.last > 1.0):
            self.last = now
            if self.history is not None:
                try:
                    pops = self.history.get_all_populations()
                    pops = pops[pops.t >= 0]
                    if len(pops):
                        self.gen = int(pops.t.max()) + 1
                        self.eps = float(pops.epsilon.iloc[-1])
                except Exception:  # the database may be busy while pyABC writes a generation
                    pass
            done = int(20 * self.gen / max(1, self.generations))
            bar = "#" * done + "-" * (20 - done)
            sys.stderr.write(f"\r{self.label} [{bar}] generation {self.gen + 1}/{self.generations} "
                             f"sims {self.sims} eps {self.eps:.3g} {now - self.t0:.0f}s ")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
