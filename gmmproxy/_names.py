"""The one table of parameter names: canonical API names and the short spellings users may type.

The Python API, the CLI flags and saved files use the canonical names
(``n_neighbors``, ``p_mirror``, ``rag_size``, ...). The shell has historically
used shorter spellings (``--neighbors``, ``--agents``, ``--components``);
:func:`canonical` maps either to the canonical name, so a sweep grid, a CLI
flag and a column of a results table always agree.
"""
from __future__ import annotations

__all__ = ["CANONICAL", "ALIASES", "canonical"]

# every SimulationConfig field, in the order of its signature (a test checks the two agree)
CANONICAL = (
    "n_agents", "n_components", "sigma", "rag_size", "p_mirror", "n_neighbors", "means",
    "covariances", "init_weights", "init_rag", "eps", "update", "rag_replacement",
    "update_covariances", "volume_preserving", "min_sd", "graph", "tie_break",
)

# alias -> canonical name. Dashes are read as underscores before the lookup, so
# "rag-size" and "p-mirror" need no entry.
ALIASES = {
    "agents": "n_agents",
    "components": "n_components",
    "neighbors": "n_neighbors",
    "neighbours": "n_neighbors",
    "n_neighbours": "n_neighbors",
}


def canonical(name: str, allowed=None) -> str:
    """The canonical parameter name of ``name`` (an API name or an alias).

    Parameters
    ----------
    name : str
        ``"n_neighbors"``, ``"neighbors"``, ``"rag-size"``, ...
    allowed : iterable of str, optional
        Canonical names accepted here (default: every :data:`CANONICAL` name).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        When ``name`` is not one of the allowed names or their aliases; the
        message lists the allowed names.
    """
    allowed = tuple(CANONICAL if allowed is None else allowed)
    if not isinstance(name, str):
        raise TypeError(f"parameter name must be a string; got {name!r}")
    key = name.strip().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in allowed:
        aliases = sorted(a for a, c in ALIASES.items() if c in allowed)
        raise ValueError(
            f"unknown parameter {name!r}; allowed: {', '.join(allowed)}"
            + (f" (or the aliases {', '.join(aliases)})" if aliases else "")
        )
    return key
