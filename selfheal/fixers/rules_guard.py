"""Guards and defaults shared by the templates: what a missing value should default to (inferred
from how the value is used), what a guarded function should return (inferred from its
annotation and its other returns), and the guard statements themselves."""

from __future__ import annotations

import ast

from selfheal.domain import pyast
from selfheal.domain.fixing import SearchReplace
from selfheal.fixers.rules_common import (
    Candidate,
    FuncNode,
    Source,
    func_of,
    insert_before,
    loop_names,
    loop_of,
    names_in,
)

_LIST_FUNCS = {
    "len",
    "sum",
    "sorted",
    "list",
    "tuple",
    "set",
    "enumerate",
    "zip",
    "any",
    "all",
    "reversed",
    "frozenset",
    "min",
    "max",
    "map",
    "filter",
}
_NUMBER_FUNCS = {"int", "float", "round", "abs", "Decimal"}
_DICT_METHODS = {"items", "keys", "values", "get", "setdefault"}
_LIST_METHODS = {"append", "extend", "insert", "index", "count", "sort"}
_STR_METHODS = {
    "strip",
    "lower",
    "upper",
    "split",
    "startswith",
    "endswith",
    "replace",
    "lstrip",
    "rstrip",
    "title",
    "casefold",
    "encode",
    "format",
    "splitlines",
    "partition",
}
_ANNOTATION_DEFAULTS = {
    "list": "[]",
    "List": "[]",
    "Sequence": "[]",
    "Iterable": "[]",
    "Iterator": "[]",
    "dict": "{}",
    "Dict": "{}",
    "Mapping": "{}",
    "MutableMapping": "{}",
    "set": "set()",
    "Set": "set()",
    "frozenset": "frozenset()",
    "tuple": "()",
    "Tuple": "()",
    "int": "0",
    "float": "0.0",
    "str": '""',
    "bool": "False",
    "bytes": 'b""',
    "None": "None",
}


def usage_default(src: Source, node: ast.AST, follow: bool = True) -> str | None:
    """A neutral value for ``node`` judged by how it is used: iterated -> ``[]``, used as a mapping
    -> ``{}``, in arithmetic -> ``0``, a string method -> ``""``; None when nothing tells."""
    parent = src.parent(node)
    if isinstance(parent, ast.For | ast.AsyncFor | ast.comprehension) and parent.iter is node:
        return "[]"
    if isinstance(parent, ast.Call) and node in parent.args and isinstance(parent.func, ast.Name):
        if parent.func.id in _LIST_FUNCS:
            return "[]"
        if parent.func.id in _NUMBER_FUNCS:
            return "0"
    if isinstance(parent, ast.Attribute) and parent.value is node:
        return _method_default(parent.attr)
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return (
            "{}" if isinstance(parent.slice, ast.Constant) and isinstance(parent.slice.value, str) else None
        )
    if isinstance(parent, ast.BinOp | ast.AugAssign) and isinstance(
        parent.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.FloorDiv | ast.Mod
    ):
        return _arith_default(parent, node)
    if (
        isinstance(parent, ast.Compare)
        and node in parent.comparators
        and isinstance(parent.ops[0], ast.In | ast.NotIn)
    ):
        return "[]"
    if isinstance(parent, ast.Compare) and any(
        isinstance(c, ast.Constant) and type(c.value) in (int, float)
        for c in [parent.left, *parent.comparators]
    ):
        return "0"
    if (
        follow
        and isinstance(parent, ast.Assign)
        and len(parent.targets) == 1
        and isinstance(parent.targets[0], ast.Name)
    ):
        return _default_from_later_uses(src, parent, parent.targets[0].id)
    return None


def _method_default(attr: str) -> str | None:
    if attr in _DICT_METHODS:
        return "{}"
    if attr in _LIST_METHODS:
        return "[]"
    if attr in _STR_METHODS:
        return '""'
    return None


def _arith_default(parent: ast.BinOp | ast.AugAssign, node: ast.AST) -> str:
    other = parent.right if isinstance(parent, ast.BinOp) and parent.left is node else None
    if isinstance(parent, ast.BinOp) and parent.right is node:
        other = parent.left
    if isinstance(other, ast.Constant) and isinstance(other.value, str):
        return '""'
    if isinstance(other, ast.List | ast.ListComp):
        return "[]"
    return "0"


def _default_from_later_uses(src: Source, assign: ast.Assign, name: str) -> str | None:
    scope: ast.AST = func_of(src, assign) or src.tree
    uses = [
        n
        for n in ast.walk(scope)
        if isinstance(n, ast.Name)
        and n.id == name
        and isinstance(n.ctx, ast.Load)
        and n.lineno > assign.lineno
    ]
    for use in sorted(uses, key=lambda n: (n.lineno, n.col_offset)):
        found = usage_default(src, use, follow=False)
        if found is not None:
            return found
    return None


# --- what a guarded function returns -------------------------------------------------------------


def _is_generator(func: FuncNode) -> bool:
    for node in ast.walk(func):
        if isinstance(node, ast.Yield | ast.YieldFrom) and func_owner(func, node):
            return True
    return False


def func_owner(func: FuncNode, node: ast.AST) -> bool:
    """True when ``node`` belongs to ``func`` itself, not to a nested function."""
    for inner in ast.walk(func):
        if (
            inner is not func
            and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            and any(n is node for n in ast.walk(inner))
        ):
            return False
    return True


def _annotation_default(ann: ast.expr, src: Source) -> str | None:
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        try:
            ann = pyast.parse_expression(ann.value).body
        except SyntaxError:
            return None
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        return "None"  # X | None
    if isinstance(ann, ast.Constant) and ann.value is None:
        return "None"
    name = ann.value if isinstance(ann, ast.Subscript) else ann
    ident = name.attr if isinstance(name, ast.Attribute) else getattr(name, "id", None)
    if ident == "Optional":
        return "None"
    if ident == "Decimal":
        # Only when Decimal is bound at run time (not just imported under TYPE_CHECKING).
        bound = any(
            isinstance(n, ast.ImportFrom) and any((a.asname or a.name) == "Decimal" for a in n.names)
            for n in src.tree.body
        )
        return 'Decimal("0")' if bound else "0"
    return _ANNOTATION_DEFAULTS.get(ident or "")


def _literal_kind(value: ast.expr) -> str | None:
    if isinstance(value, ast.List | ast.ListComp):
        return "[]"
    if isinstance(value, ast.Dict | ast.DictComp):
        return "{}"
    if isinstance(value, ast.Constant):
        if value.value is None:
            return "None"
        if isinstance(value.value, bool):
            return "False"
        if isinstance(value.value, int | float):
            return "0.0" if isinstance(value.value, float) else "0"
        if isinstance(value.value, str):
            return '""'
    return None


def return_value(src: Source, func: FuncNode) -> str | None:
    """What an early return of ``func`` should give back; None means a bare ``return``."""
    if _is_generator(func):
        return None
    if func.returns is not None:
        found = _annotation_default(func.returns, src)
        if found is not None:
            return None if found == "None" else found
    values = [n.value for n in ast.walk(func) if isinstance(n, ast.Return) and func_owner(func, n)]
    if not any(v is not None for v in values):
        return None
    kinds = {(_literal_kind(v) if v is not None else "None") for v in values}
    if "None" in kinds:
        return "None"
    known = [k for k in kinds if k is not None]
    return known[0] if len(known) == 1 else "None"


def guard_edits(
    src: Source, stmt: ast.stmt, condition: str, depends_on: set[str]
) -> list[tuple[str, SearchReplace]]:
    """Guard statements above ``stmt`` that leave early when ``condition`` holds, best first:
    ``continue`` when inside a loop over the value's source, else ``return <default>``.
    Returns (kind, edit) pairs, kind one of ``continue`` / ``return``."""
    out: list[tuple[str, SearchReplace]] = []
    if _bound_within(stmt) & depends_on:
        return out  # the value only exists inside a comprehension or lambda of the statement
    loop = loop_of(src, stmt)
    func = func_of(src, stmt)
    loop_first = loop is not None and bool(
        loop_names(loop) & depends_on or _assigned_in_loop(loop, depends_on)
    )
    options: list[tuple[str, list[str]]] = []
    if loop is not None:
        options.append(("continue", [f"if {condition}:", "\tcontinue"]))
    if func is not None:
        value = return_value(src, func)
        options.append(("return", [f"if {condition}:", "\treturn" + (f" {value}" if value else "")]))
    if not loop_first:
        options.reverse()
    for kind, block in options:
        edit = insert_before(src, stmt, block)
        if edit is not None:
            out.append((kind, edit))
    return out


def guard_candidates(guards: list[tuple[str, SearchReplace]], *, cause: str, when: str, score: float,
                     rule: str, skip: str = "skip the item") -> list[Candidate]:
    """One candidate per ``guard_edits`` pair, summarised "Guard: <skip|return early> when <when>"
    and named ``<rule>.guard.<kind>``."""
    return [
        Candidate((edit,), cause, f"Guard: {skip if kind == 'continue' else 'return early'} when {when}",
                  score, f"{rule}.guard.{kind}")
        for kind, edit in guards
    ]


def _assigned_in_loop(loop: ast.For | ast.While | ast.AsyncFor, names: set[str]) -> bool:
    for node in ast.walk(loop):
        if isinstance(node, ast.Assign) and any(names_in(t) & names for t in node.targets):
            return True
    return False


def _bound_within(stmt: ast.stmt) -> set[str]:
    """Names bound by comprehensions and lambdas inside ``stmt`` (not visible above it)."""
    names: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.comprehension):
            names |= names_in(node.target)
        elif isinstance(node, ast.Lambda):
            names |= {a.arg for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs}
        elif isinstance(node, ast.NamedExpr):
            names |= names_in(node.target)
    return names
