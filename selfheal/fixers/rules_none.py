"""``None`` where a value was expected: subscripted, iterated or attribute-accessed. Guard the
statement (skip the record in a loop, else return early), or substitute an empty value inline."""

from __future__ import annotations

import ast
import re

from selfheal.domain.fixing import SearchReplace
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

_ATTR = re.compile(r"'NoneType' object has no attribute '(\w+)'")
_LIKELY_NONE = re.compile(
    r"(^|_)(get|find|lookup|match|search|first|load|fetch|one|maybe|optional|query)", re.I
)


def kind_of(exc_type: str, message: str) -> str | None:
    """``subscript`` / ``iterate`` / ``attribute`` when the message says None was used so."""
    if "NoneType" not in message:
        return None
    if exc_type == "TypeError" and "not subscriptable" in message:
        return "subscript"
    if exc_type == "TypeError" and ("not iterable" in message or "non-iterable NoneType" in message):
        return "iterate"
    if exc_type == "AttributeError" and _ATTR.search(message):
        return "attribute"
    return None


def _suspects(site: Site, kind: str, message: str) -> list[ast.expr]:
    """Expressions on the failing line that may be the None, most likely first."""
    found: list[ast.expr] = []
    if kind == "subscript":
        found = [
            n.value
            for n in nodes_on_line(site, ast.Subscript)
            if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load)
        ]
    elif kind == "attribute":
        m = _ATTR.search(message)
        attr = m.group(1) if m else ""
        found = [
            n.value
            for n in nodes_on_line(site, ast.Attribute)
            if isinstance(n, ast.Attribute) and n.attr == attr
        ]
    else:
        for node in nodes_on_line(site, (ast.For, ast.AsyncFor, ast.comprehension, ast.Call, ast.Assign)):
            if isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                found.append(node.iter)
            elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple | ast.List):
                found.append(node.value)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("list", "sorted", "set", "tuple", "sum", "len", "dict", "enumerate")
                and node.args
            ):
                found.append(node.args[0])
    found = [f for f in found if not isinstance(f, ast.Constant | ast.List | ast.Dict | ast.Tuple)]
    return sorted(found, key=lambda e: -_likelihood(site, e))


def _likelihood(site: Site, expr: ast.expr) -> int:
    """Rank suspects: results of get/find/lookup calls and payload fields are often None."""
    score = 0
    if isinstance(expr, ast.Call | ast.Subscript):
        score += 2
    if isinstance(expr, ast.Call) and _LIKELY_NONE.search(ast.unparse(expr.func).rsplit(".", 1)[-1]):
        score += 3
    if isinstance(expr, ast.Name):
        for node in ast.walk(site.src.tree):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == expr.id for t in node.targets)
                and isinstance(node.value, ast.Call)
            ):
                name = ast.unparse(node.value.func).rsplit(".", 1)[-1]
                score += 3 if _LIKELY_NONE.search(name) else 1
    if isinstance(expr, ast.Attribute):
        score += 1
    return score


def propose(exc_type: str, message: str, sites: list[Site]) -> tuple[list[Candidate], str]:
    kind = kind_of(exc_type, message)
    if kind is None:
        return [], "not a None-value error"
    for site in sites:
        suspects = _suspects(site, kind, message)
        if not suspects:
            continue
        out: list[Candidate] = []
        for rank, expr in enumerate(suspects):
            out.extend(_candidates(site, kind, expr, rank))
        if out:
            return out, ""
        return [], "the value that was None is not a plain expression that can be guarded"
    return [], "no expression on the failing line matches the None error"


def _candidates(site: Site, kind: str, expr: ast.expr, rank: int) -> list[Candidate]:
    src = site.src
    text = src.segment(expr)
    verb = {"subscript": "subscripts", "iterate": "iterates over", "attribute": "reads an attribute of"}[kind]
    cause = f"{src.path}:{site.line} {verb} {text}, which is None for this input"
    base = 75 - rank * 12 - site.depth * 5
    out: list[Candidate] = []
    stmt = stmt_of(src, expr)
    if kind == "iterate":
        edit = replace_node(
            src,
            expr,
            f"({text} or [])" if not isinstance(expr, ast.Name | ast.Attribute) else f"{text} or []",
        )
        if edit:
            out.append(
                Candidate((edit,), cause, f"Treat a missing {text} as empty", base + 5, "none.or_empty")
            )
    if stmt is not None and is_pure(expr) and not isinstance(stmt, ast.While):
        out += guard_candidates(guard_edits(src, stmt, f"{text} is None", names_in(expr)),
                                cause=cause, when=f"{text} is None", score=base, rule="none")
    inline = _inline(site, kind, expr)
    if inline is not None:
        # A JSON null read with a constant key: (x or {}).get(k) keeps the rest of the statement.
        bonus = 2 if kind == "subscript" else -8
        out.append(
            Candidate(
                (inline,),
                cause,
                f"Fall back to an empty value when {text} is None",
                base + bonus,
                "none.inline",
            )
        )
    return out


def _inline(site: Site, kind: str, expr: ast.expr) -> SearchReplace | None:
    """``(x or {}).get(k)`` for a subscript with a constant key; ``x.a if x is not None else d``."""
    src = site.src
    parent = src.parent(expr)
    text = src.segment(expr)
    if (
        kind == "subscript"
        and isinstance(parent, ast.Subscript)
        and isinstance(parent.slice, ast.Constant)
        and isinstance(parent.slice.value, str)
    ):
        default = usage_default(src, parent)
        key = src.segment(parent.slice)
        return replace_node(src, parent, f"({text} or {{}}).get({key}{', ' + default if default else ''})")
    if kind == "attribute" and isinstance(parent, ast.Attribute) and is_pure(expr):
        outer: ast.expr = parent
        grand = src.parent(parent)
        if isinstance(grand, ast.Call) and grand.func is parent:
            outer = grand
        default = usage_default(src, outer) or "None"
        expr_text = f"{src.segment(outer)} if {text} is not None else {default}"
        bare = isinstance(src.parent(outer), ast.Assign | ast.Return | ast.AnnAssign)
        return replace_node(src, outer, expr_text if bare else f"({expr_text})")
    return None
