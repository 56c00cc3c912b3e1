"""ZeroDivisionError: guard the divisor. Inline (``a / b if b else 0``) or a guard statement that
returns a neutral value or skips the item, inferred from where the division sits.

When the function already rejects bad input by raising an error class of its own module (a
``BadRequest``) and the divisor is one of its inputs, a zero divisor is a bad request too: the
only candidate then rejects it the same way. A neutral value would answer the bad request as if
it were good (a 200 with no pages instead of a 400)."""

from __future__ import annotations

import ast

from selfheal.domain.fixing import SearchReplace
from selfheal.fixers.rules_common import (
    Candidate,
    Site,
    Source,
    insert_before,
    is_pure,
    names_in,
    nodes_on_line,
    replace_node,
    stmt_of,
)
from selfheal.fixers.rules_guard import guard_candidates, guard_edits

_DIV_OPS = (ast.Div, ast.FloorDiv, ast.Mod)


def handles(exc_type: str) -> bool:
    return exc_type in ("ZeroDivisionError", "DivisionByZero", "DivisionUndefined")


def _divisions(site: Site) -> list[tuple[ast.AST, ast.expr]]:
    """(operation, divisor) pairs on the failing line; constant non-zero divisors excluded."""
    found: list[tuple[ast.AST, ast.expr]] = []
    for node in nodes_on_line(site, (ast.BinOp, ast.AugAssign)):
        if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, _DIV_OPS):
            divisor = node.right if isinstance(node, ast.BinOp) else node.value
            if isinstance(divisor, ast.Constant) and divisor.value:
                continue
            found.append((node, divisor))
    for node in nodes_on_line(site, ast.Call):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "divmod"
            and len(node.args) == 2
        ):
            found.append((node, node.args[1]))
    # Names and len() first: they are the usual empty-input culprits.
    return sorted(found, key=lambda p: 0 if isinstance(p[1], ast.Name | ast.Call | ast.Attribute) else 1)


def _zero(site: Site, op: ast.AST) -> str:
    uses_decimal = "Decimal" in site.src.text
    if isinstance(op, ast.BinOp | ast.AugAssign) and isinstance(op.op, ast.Div) and not uses_decimal:
        return "0.0"
    return "0"


def propose(exc_type: str, message: str, sites: list[Site]) -> tuple[list[Candidate], str]:
    for site in sites:
        pairs = _divisions(site)
        if not pairs:
            continue
        out: list[Candidate] = []
        for rank, (op, divisor) in enumerate(pairs):
            out.extend(_candidates(site, op, divisor, rank))
        return out, "" if out else "the divisor is not an expression that can be checked twice"
    return [], "no division on the failing line"


def _candidates(site: Site, op: ast.AST, divisor: ast.expr, rank: int) -> list[Candidate]:
    src = site.src
    div_text = src.segment(divisor)
    cause = f"{src.path}:{site.line} divides by {div_text}, which is zero for this input (e.g. no items)"
    base = 80 - rank * 15 - site.depth * 5
    zero = _zero(site, op)
    out: list[Candidate] = []
    stmt = stmt_of(src, op)
    pure = is_pure(divisor)
    if isinstance(op, ast.BinOp) and pure:
        parent = src.parent(op)
        bare = isinstance(parent, ast.Assign | ast.Return | ast.AnnAssign | ast.keyword) or (
            isinstance(parent, ast.Call) and op in parent.args
        )
        expr = f"{src.segment(op)} if {div_text} else {zero}"
        edit = replace_node(src, op, expr if bare else f"({expr})")
        if edit:
            out.append(
                Candidate((edit,), cause, f"Use {zero} when {div_text} is zero", base, "zerodiv.inline")
            )
    if stmt is None or not pure or isinstance(stmt, ast.While):
        return out
    rejecting = _input_rejection(src, stmt, divisor)
    if rejecting is not None:
        edit = insert_before(src, stmt, [f"if not {div_text}:",
                                         f"\traise {rejecting}({(div_text + ' must not be zero')!r})"])
        reason = (f"{cause}; the function rejects bad input with {rejecting}, so a zero {div_text} is "
                  "rejected the same way (a neutral value would answer a bad request as a good one)")
        return [Candidate((edit,), reason, f"Reject a zero {div_text} with {rejecting}", base + 5,
                          "zerodiv.reject")] if edit else []
    guards: list[tuple[str, SearchReplace]]
    if isinstance(stmt, ast.Return):
        edit = insert_before(src, stmt, [f"if not {_emptiness(src, divisor)}:", f"\treturn {zero}"])
        guards = [("return", edit)] if edit else []
    else:
        guards = guard_edits(src, stmt, f"not {_emptiness(src, divisor)}", names_in(divisor))
    return out + guard_candidates(guards, cause=cause, when=f"{div_text} is zero", score=base - 10,
                                  rule="zerodiv")


def _emptiness(src: Source, divisor: ast.expr) -> str:
    """``not len(xs)`` reads better as ``not xs``."""
    if (
        isinstance(divisor, ast.Call)
        and isinstance(divisor.func, ast.Name)
        and divisor.func.id == "len"
        and len(divisor.args) == 1
    ):
        return src.segment(divisor.args[0])
    return src.segment(divisor)


def _input_rejection(src: Source, stmt: ast.stmt, divisor: ast.expr) -> str | None:
    """The module's own error class the enclosing function raises for bad input, when the
    ``divisor`` is a name that function reads from its parameters; else None."""
    defs = (ast.FunctionDef, ast.AsyncFunctionDef)
    func = next((a for a in src.ancestors(stmt) if isinstance(a, defs)), None)
    if func is None or not isinstance(divisor, ast.Name):
        return None
    own = {n.name for n in src.tree.body if isinstance(n, ast.ClassDef)}
    raised = [r.exc.func.id for r in ast.walk(func)
              if isinstance(r, ast.Raise) and isinstance(r.exc, ast.Call)
              and isinstance(r.exc.func, ast.Name) and r.exc.func.id in own]
    if not raised:
        return None
    params = {a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)}
    for node in ast.walk(func):
        assigns = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == divisor.id for t in node.targets)
        if assigns and names_in(node.value) & params:  # type: ignore[attr-defined]
            return raised[0]
    return None
