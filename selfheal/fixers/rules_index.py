"""IndexError on an empty sequence (``xs[0]``, ``xs[-1]``, ``xs.pop()``): guard the emptiness.

A computed index out of range (``xs[i]``, ``parts[2]``) is an off-by-one or malformed input, not
an empty sequence; a guard would hide it, so this template leaves it alone."""

from __future__ import annotations

import ast

from selfheal.fixers.rules_common import (
    Candidate,
    Site,
    is_pure,
    names_in,
    nodes_on_line,
    replace_node,
    stmt_of,
)
from selfheal.fixers.rules_guard import guard_candidates, guard_edits, usage_default

_POPS = {"pop", "popleft", "popitem"}


def _empty_accesses(site: Site, message: str) -> tuple[list[tuple[ast.expr, ast.expr]], str]:
    """(access, sequence) pairs that fail only on an empty sequence; with a reason when none."""
    pairs: list[tuple[ast.expr, ast.expr]] = []
    computed = False
    popping = "pop" in message
    for node in nodes_on_line(site, (ast.Subscript, ast.Call)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _POPS:
            index = node.args[0] if node.args else None
            if index is None or (isinstance(index, ast.Constant) and index.value in (0, -1)):
                pairs.append((node, node.func.value))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and not popping:
            idx = node.slice
            if (
                isinstance(idx, ast.UnaryOp)
                and isinstance(idx.op, ast.USub)
                and isinstance(idx.operand, ast.Constant)
            ):
                value = -idx.operand.value if isinstance(idx.operand.value, int) else None
            else:
                value = idx.value if isinstance(idx, ast.Constant) and isinstance(idx.value, int) else None
            if value in (0, -1):
                pairs.append((node, node.value))
            elif not isinstance(idx, ast.Slice | ast.Constant) or isinstance(value, int):
                computed = True
    if pairs:
        return pairs, ""
    if computed:
        return [], "the index is computed or past the first/last item: an off-by-one or malformed input"
    return [], "no [0], [-1] or pop() on the failing line"


def propose(exc_type: str, message: str, sites: list[Site]) -> tuple[list[Candidate], str]:
    for site in sites:
        pairs, reason = _empty_accesses(site, message)
        if reason.startswith("the index is computed"):
            return [], reason
        if not pairs:
            continue
        out: list[Candidate] = []
        for rank, (access, seq) in enumerate(pairs):
            out.extend(_candidates(site, access, seq, rank))
        return out, "" if out else "the sequence is not an expression that can be checked twice"
    return [], "no [0], [-1] or pop() on the failing line"


def _candidates(site: Site, access: ast.expr, seq: ast.expr, rank: int) -> list[Candidate]:
    src = site.src
    seq_text, access_text = src.segment(seq), src.segment(access)
    cause = f"{src.path}:{site.line} takes {access_text} but {seq_text} is empty for this input"
    base = 75 - rank * 15 - site.depth * 5
    out: list[Candidate] = []
    if not is_pure(seq):
        return out
    stmt = stmt_of(src, access)
    if stmt is not None and not isinstance(stmt, ast.While):
        out += guard_candidates(guard_edits(src, stmt, f"not {seq_text}", names_in(seq)),
                                cause=cause, when=f"{seq_text} is empty", score=base, rule="index")
    default = usage_default(src, access) or "None"
    parent = src.parent(access)
    bare = isinstance(parent, ast.Assign | ast.Return | ast.AnnAssign | ast.keyword | ast.Expr)
    expr = f"{access_text} if {seq_text} else {default}"
    inline = replace_node(src, access, expr if bare else f"({expr})")
    if inline:
        out.append(
            Candidate((inline,), cause, f"Use {default} when {seq_text} is empty", base - 8, "index.inline")
        )
    return out
