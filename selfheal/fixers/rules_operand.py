"""``None`` as an operand of arithmetic or concatenation (``total + fee`` with ``fee`` None): use
a neutral value for the missing operand (``fee or 0``), or guard the statement."""

from __future__ import annotations

import ast
import re

from selfheal.fixers.rules_common import (
    Candidate,
    Site,
    is_pure,
    names_in,
    nodes_on_line,
    replace_node,
    stmt_of,
)
from selfheal.fixers.rules_guard import guard_candidates, guard_edits

_UNSUPPORTED = re.compile(r"unsupported operand type\(s\) for (\S+?): '(\w+)' and '(\w+)'")
_CONCAT = re.compile(r'can only concatenate (\w+) \(not "NoneType"\) to \w+')
_OPS: dict[str, type[ast.operator]] = {
    "+": ast.Add,
    "-": ast.Sub,
    "*": ast.Mult,
    "/": ast.Div,
    "//": ast.FloorDiv,
    "%": ast.Mod,
    "**": ast.Pow,
    "@": ast.MatMult,
}
_NEUTRAL = {
    "int": "0",
    "float": "0",
    "Decimal": "0",
    "complex": "0",
    "str": '""',
    "list": "[]",
    "tuple": "()",
    "bytes": 'b""',
}


def parse(message: str) -> tuple[type[ast.operator], str, str] | None:
    """(operator, side that is None: left/right, type of the other operand) from the message."""
    m = _UNSUPPORTED.search(message)
    if m:
        symbol, left, right = m.group(1).rstrip("="), m.group(2), m.group(3)
        op = _OPS.get(symbol)
        if op is None or "NoneType" not in (left, right) or left == right:
            return None
        return (op, "left", right) if left == "NoneType" else (op, "right", left)
    m = _CONCAT.search(message)
    if m:
        return ast.Add, "right", m.group(1)
    return None


def handles(exc_type: str, message: str) -> bool:
    return exc_type == "TypeError" and parse(message) is not None


def _operands(site: Site, op: type[ast.operator], side: str) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in nodes_on_line(site, (ast.BinOp, ast.AugAssign)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, op):
            found.append(node.left if side == "left" else node.right)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, op):
            found.append(node.target if side == "left" else node.value)
    return [f for f in found if not isinstance(f, ast.Constant)]


def propose(exc_type: str, message: str, sites: list[Site]) -> tuple[list[Candidate], str]:
    parsed = parse(message)
    if parsed is None:
        return [], "not a None operand error"
    op, side, other = parsed
    neutral = _NEUTRAL.get(other)
    for site in sites:
        operands = _operands(site, op, side)
        if not operands:
            continue
        out: list[Candidate] = []
        for rank, expr in enumerate(operands):
            out.extend(_candidates(site, expr, neutral, rank))
        return out, "" if out else "the None operand cannot be replaced or guarded"
    return [], "no matching operation on the failing line"


def _candidates(site: Site, expr: ast.expr, neutral: str | None, rank: int) -> list[Candidate]:
    src = site.src
    text = src.segment(expr)
    cause = f"{src.path}:{site.line} uses {text} in an operation, but it is None for this input"
    base = 75 - rank * 12 - site.depth * 5
    out: list[Candidate] = []
    stored = isinstance(getattr(expr, "ctx", None), ast.Store)
    if neutral is not None and not stored:
        edit = replace_node(src, expr, f"({text} or {neutral})")
        if edit:
            out.append(Candidate((edit,), cause, f"Treat a missing {text} as {neutral}", base, "operand.or"))
    stmt = stmt_of(src, expr)
    if stmt is not None and is_pure(expr) and not isinstance(stmt, ast.While):
        out += guard_candidates(guard_edits(src, stmt, f"{text} is None", names_in(expr)),
                                cause=cause, when=f"{text} is None", score=base - 8, rule="operand")
    return out
