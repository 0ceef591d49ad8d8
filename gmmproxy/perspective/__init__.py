"""Perspective space (Helm et al. 2024): where agents stand, from what they answer.

Each agent (LLM or proxy) answers a fixed set of ``m`` prompts; a common embedding
function maps each answer to ``R^D``, giving an ``(m, D)`` matrix per agent. The distance
between two agents is the Frobenius norm of the difference of their matrices, and the
classical multidimensional scaling (CMDS) of the distance matrix gives Euclidean
coordinates -- the agents' *perspectives*. Over a whole run, the ``nT x nT`` distance
matrix of all (agent, step) pairs puts every step in one common space.

On top of the positions:

* :func:`iso_mirror` -- a one-number-per-step summary of the system's dynamics
  (Athreya et al. 2022, used by Helm et al.): distances between the configurations of
  consecutive and distant steps, CMDS of those, then Isomap to one dimension.
* :func:`cluster_steps` -- per-step Gaussian-mixture clustering with BIC model selection
  and the adjusted Rand index between consecutive steps.

Everything here is plain NumPy/SciPy/scikit-learn on small dense matrices. One module per
concept: :mod:`.cmds` (classical MDS and its elbow rule), :mod:`.space` (the perspective
space), :mod:`.isomirror` (the iso-mirror; named so that the function :func:`iso_mirror` shadows no module), :mod:`.clusters` (GMM-BIC clustering and ARI).
"""
from gmmproxy.perspective.clusters import StepClusters, cluster_steps
from gmmproxy.perspective.cmds import (ClassicalMDS, classical_mds, profile_likelihood_elbows,
                                       select_dimension)
from gmmproxy.perspective.isomirror import IsoMirror, configuration_distances, iso_mirror
from gmmproxy.perspective.space import PerspectiveSpace, perspective_space, response_distances

__all__ = [
    "ClassicalMDS",
    "classical_mds",
    "profile_likelihood_elbows",
    "select_dimension",
    "response_distances",
    "perspective_space",
    "PerspectiveSpace",
    "configuration_distances",
    "iso_mirror",
    "IsoMirror",
    "cluster_steps",
    "StepClusters",
]
