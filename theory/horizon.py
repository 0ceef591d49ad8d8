"""Horizons written as formulas in m, e.g. ``"2*m*ln(m)"`` (parsed, never ``eval``-ed).

Grammar: numbers, the names ``m`` (number of agents), ``r`` (RAG size, when
given), ``pi`` and ``e``; the operators ``+ - * / ** ^`` and parentheses; the
functions ``ln``, ``log`` (natural), ``log2``, ``log10``, ``sqrt``, ``exp``,
``ceil``, ``floor``. The expression is parsed with :mod:`ast` and walked over
a whitelist of node types; anything else (attributes, calls of other names,
subscripts, lambdas, ...) is rejected. Arithmetic is done in mpmath, so no
Python integer can blow up.
"""
from __future__ import annotations

import ast

import mpmath
from mpmath import mp

from theory._validate import DPS, check_agents, check_int

_MAX_LEN = 200
_MAX_VALUE = 1e100
_FUNCS = {
    "ln": mpmath.log,
    "log": mpmath.log,
    "log2": lambda x: mpmath.log(x, 2),
    "log10": mpmath.log10,
    "sqrt": mpmath.sqrt,
    "exp": mpmath.exp,
    "ceil": mpmath.ceil,
    "floor": mpmath.floor,
}
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


class _Evaluator:
    def __init__(self, text, names):
        self.text = text
        self.names = names

    def fail(self, why):
        raise ValueError(f"horizon {self.text!r} cannot be parsed: {why}")

    def bounded(self, value):
        # intermediate values are capped so a formula cannot make mpmath build
        # astronomically large numbers (no sensible horizon needs them)
        if not mpmath.isfinite(value) or abs(value) > _MAX_VALUE:
            self.fail(f"intermediate value beyond {_MAX_VALUE:.0e}")
        return value

    def __call__(self, node):
        if isinstance(node, ast.Expression):
            return self(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                self.fail(f"unsupported constant {node.value!r}")
            return mpmath.mpf(repr(node.value)) if isinstance(node.value, float) else mpmath.mpf(node.value)
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                self.fail(f"unknown name {node.id!r} (allowed: {', '.join(sorted(self.names))})")
            return self.names[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            v = self(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = self(node.left), self(node.right)
            if isinstance(node.op, ast.Pow) and abs(b) > 1000:
                self.fail("exponent larger than 1000")
            if isinstance(node.op, ast.Pow) and a < 0 and b != mpmath.floor(b):
                self.fail("fractional power of a negative number")
            try:
                return self.bounded(_BINOPS[type(node.op)](a, b))
            except ZeroDivisionError:
                self.fail("division by zero")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
                name = getattr(node.func, "id", "?")
                self.fail(f"unknown function {name!r} (allowed: {', '.join(sorted(_FUNCS))})")
            if len(node.args) != 1 or node.keywords:
                self.fail(f"{node.func.id}() takes exactly one argument")
            arg = self(node.args[0])
            if node.func.id in ("ln", "log", "log2", "log10") and arg <= 0:
                self.fail(f"{node.func.id}() of a non-positive number")
            if node.func.id == "sqrt" and arg < 0:
                self.fail("sqrt() of a negative number")
            if node.func.id == "exp" and arg > 1000:
                self.fail("exp() of a number larger than 1000")
            return self.bounded(_FUNCS[node.func.id](arg))
        self.fail(f"unsupported syntax {type(node).__name__}")


def parse_horizon(text, n_agents, rag_size=None):
    """Evaluate a horizon formula (or a plain number) for ``m = n_agents``.

    Parameters
    ----------
    text : str or real
        E.g. ``"2*m*ln(m)"``, ``"10 m ln m"`` is *not* accepted (write ``*``);
        ``"204"``; ``"(5*r+2)*m"`` when ``rag_size`` is given; ``^`` means power.
    n_agents : int
        m >= 3, bound to the name ``m``.
    rag_size : int, optional
        r >= 1, bound to the name ``r``.

    Returns
    -------
    mpmath.mpf
        The horizon T >= 0 (real; the paper uses ``2 m ln m`` unrounded).

    Raises
    ------
    ValueError
        Unparsable text, unknown names, or a negative / non-finite result.
    """
    m = check_agents(n_agents)
    names = {"m": None, "pi": None, "e": None}
    with mp.workdps(DPS):
        names = {"m": mpmath.mpf(m), "pi": +mpmath.pi, "e": +mpmath.e}
        if rag_size is not None:
            names["r"] = mpmath.mpf(check_int("rag_size", rag_size, 1))
        if not isinstance(text, str):
            if isinstance(text, bool):
                raise TypeError(f"horizon must be a string or a real number; got {text!r}")
            text = repr(text)
        src = text.strip()
        if not src:
            raise ValueError("horizon cannot be parsed: empty string")
        if len(src) > _MAX_LEN:
            raise ValueError(f"horizon cannot be parsed: longer than {_MAX_LEN} characters")
        try:
            tree = ast.parse(src.replace("^", "**"), mode="eval")
        except SyntaxError:
            raise ValueError(f"horizon {text!r} cannot be parsed: not an arithmetic expression") from None
        value = _Evaluator(text, names)(tree)
        if not mpmath.isfinite(value):
            raise ValueError(f"horizon must be finite; {text!r} gives {mpmath.nstr(value, 8)}")
        if value < 0:
            raise ValueError(f"horizon must be >= 0; {text!r} gives {mpmath.nstr(value, 8)}")
        return value


def horizon_steps(text, n_agents, rag_size=None):
    """The horizon as a whole number of chain steps: ``floor(T)``.

    A Monte-Carlo run takes whole steps; since the Theorem-2 bounds decrease in
    T, the bound at ``floor(T)`` is the one to compare with.
    """
    value = parse_horizon(text, n_agents, rag_size)
    if value > 10**12:
        raise ValueError(f"horizon must be at most 1e12 steps for a simulation; got {mpmath.nstr(value, 8)}")
    return int(mpmath.floor(value))


__all__ = ["parse_horizon", "horizon_steps"]
