"""Private Numba kernels of the simulator and of the Markov chain. Callers validate inputs first.

Modules: ``rng`` (xoshiro256** streams), ``gmm`` (densities, sampling, the EM
weight step), ``neighbors`` (partner choice), ``state`` (the named structures
the rounds work on), ``rounds`` (Algorithms 1 and 2, one entry point per model
variant), ``chain`` (the single-agent-update Markov chain), ``cache`` (where
Numba's on-disk cache lives) and ``runner`` (the Python side: picks the
variant, reports compilation, runs replicates on threads).
"""
