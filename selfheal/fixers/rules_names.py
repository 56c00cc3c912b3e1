"""NameError / AttributeError from a misspelt name: rename it to Python's own "Did you mean"
suggestion. ``logging.exception`` on Python <= 3.11 does not print the suggestion, so when the
message has none it is computed the way CPython does (case-aware Levenshtein over the names in
scope: the file's bindings, the class's attributes, the module's names, builtins). A stdlib module
used without an import gets the import."""

from __future__ import annotations

import ast
import builtins
import importlib
import re
import sys

from selfheal.domain.fixing import SearchReplace
from selfheal.fixers.rules_common import Candidate, Site, Source, func_of, nodes_on_line, unique_edit

_SUGGESTION = re.compile(r"Did you mean:? '([A-Za-z_]\w*)'\?")
_NAME = re.compile(r"name '(\w+)' is not defined")
_MODULE_ATTR = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
_OBJECT_ATTR = re.compile(r"(?:'(\w+)' object|type object '(\w+)') has no attribute '(\w+)'")
_UNSAFE_MODULES = {"antigravity", "this", "idlelib", "turtle", "turtledemo", "tkinter", "webbrowser"}
_BUILTIN_TYPES = {
    "str": str,
    "dict": dict,
    "list": list,
    "int": int,
    "float": float,
    "set": set,
    "tuple": tuple,
    "bytes": bytes,
    "frozenset": frozenset,
}


def distance(a: str, b: str) -> int:
    """CPython's suggestion distance: substitutions cost 2, a change of case only 1."""
    prev = [i * 2 for i in range(len(b) + 1)]
    for i, ca in enumerate(a, start=1):
        cur = [i * 2]
        for j, cb in enumerate(b, start=1):
            sub = 0 if ca == cb else (1 if ca.lower() == cb.lower() else 2)
            cur.append(min(prev[j] + 2, cur[j - 1] + 2, prev[j - 1] + sub))
        prev = cur
    return prev[-1]


def suggestions(wrong: str, names: set[str], limit: int = 3) -> list[str]:
    """Close names to ``wrong`` within CPython's cut-off, closest first."""
    scored = []
    for name in names:
        if name == wrong:
            continue
        cost = distance(wrong, name)
        if cost <= (len(wrong) + len(name) + 3) * 2 // 6:
            # Ties go to a transposition (same letters): "sha265" is "sha256", not "sha224".
            scored.append((cost, sorted(name) != sorted(wrong), name))
    return [name for *_, name in sorted(scored)[:limit]]


def _file_bindings(src: Source, node: ast.AST) -> set[str]:
    names: set[str] = set(dir(builtins))
    scopes: list[ast.AST] = [src.tree]
    func = func_of(src, node)
    while func is not None:
        scopes.append(func)
        func = func_of(src, func)
    for scope in scopes:
        body = scope.body if isinstance(scope, ast.Module) else [scope]
        for top in body:
            names |= _bound(top, deep=not isinstance(scope, ast.Module))
    return names


def _bound(node: ast.AST, deep: bool) -> set[str]:
    names: set[str] = set()
    walk = ast.walk(node) if deep else iter([node])
    for n in walk:
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(n.name)
            if deep and isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
                names |= {a.arg for a in n.args.args + n.args.kwonlyargs + n.args.posonlyargs}
        elif isinstance(n, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in n.names}
        elif isinstance(n, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.For | ast.With):
            for t in ast.walk(n):
                if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store):
                    names.add(t.id)
    return names


def _class_attrs(files: dict[str, Source], cls_name: str, depth: int = 0) -> set[str]:
    if cls_name in _BUILTIN_TYPES:
        return set(dir(_BUILTIN_TYPES[cls_name]))
    attrs: set[str] = set()
    for src in files.values():
        for node in ast.walk(src.tree):
            if isinstance(node, ast.ClassDef) and node.name == cls_name:
                attrs |= _attrs_of_class(node)
                if depth < 3:
                    for base in node.bases:
                        if isinstance(base, ast.Name):
                            attrs |= _class_attrs(files, base.id, depth + 1)
    return attrs


def _attrs_of_class(node: ast.ClassDef) -> set[str]:
    attrs = _bound(ast.Module(body=node.body, type_ignores=[]), deep=False)
    for stmt in node.body:
        attrs |= _bound(stmt, deep=False)
        for n in ast.walk(stmt):
            if (
                isinstance(n, ast.Attribute)
                and isinstance(n.ctx, ast.Store)
                and isinstance(n.value, ast.Name)
                and n.value.id == "self"
            ):
                attrs.add(n.attr)
    return attrs


def _module_names(files: dict[str, Source], module: str) -> set[str]:
    suffix = module.replace(".", "/")
    names: set[str] = set()
    for src in files.values():
        if src.path.endswith((suffix + ".py", suffix + "/__init__.py")):
            names |= {name for top in src.tree.body for name in _bound(top, deep=False)}
    if names:
        return names
    top = module.split(".")[0]
    if top in sys.stdlib_module_names and top not in _UNSAFE_MODULES:
        try:
            return set(dir(importlib.import_module(module)))
        except ImportError:
            return set()
    return set()


def propose(
    exc_type: str, message: str, sites: list[Site], files: dict[str, Source]
) -> tuple[list[Candidate], str]:
    """Rename candidates for a NameError/AttributeError, best suggestion first."""
    given = _SUGGESTION.search(message)
    for site in sites:
        if exc_type == "NameError" and (m := _NAME.search(message)):
            out = _fix_name(site, m.group(1), given.group(1) if given else None)
        elif exc_type == "AttributeError":
            out = _fix_attribute(site, message, files, given.group(1) if given else None)
        else:
            return [], f"no rule for {exc_type}"
        if out:
            return out, ""
    return [], "no close name in scope to rename it to"


def _fix_name(site: Site, wrong: str, given: str | None) -> list[Candidate]:
    src = site.src
    occurrences = [n for n in nodes_on_line(site, ast.Name) if isinstance(n, ast.Name) and n.id == wrong]
    if not occurrences:
        return []
    scope: ast.AST = func_of(src, occurrences[0]) or src.tree
    targets = [
        n
        for n in ast.walk(scope)
        if isinstance(n, ast.Name) and n.id == wrong and isinstance(n.ctx, ast.Load)
    ]
    names = [given] if given else suggestions(wrong, _file_bindings(src, occurrences[0]))
    out: list[Candidate] = []
    cause = f"{src.path}:{site.line} uses {wrong}, which is not defined"
    for rank, right in enumerate(names):
        edit = _rename(src, [(n.lineno, n.col_offset, n.end_col_offset or 0) for n in targets], right)
        if edit:
            out.append(
                Candidate(
                    (edit,),
                    cause + f" (a misspelling of {right})",
                    f"Rename {wrong} to {right}",
                    85 - rank * 10 - site.depth * 5,
                    "names.rename",
                )
            )
    if wrong in sys.stdlib_module_names and wrong not in _UNSAFE_MODULES and not given:
        edit = _add_import(src, wrong)
        if edit:
            out.insert(
                0,
                Candidate(
                    (edit,),
                    cause + f": the standard module {wrong} is never imported",
                    f"Import {wrong}",
                    88 - site.depth * 5,
                    "names.import",
                ),
            )
    return out


def _fix_attribute(site: Site, message: str, files: dict[str, Source], given: str | None) -> list[Candidate]:
    mod, obj = _MODULE_ATTR.search(message), _OBJECT_ATTR.search(message)
    if mod:
        wrong, owner = mod.group(2), f"module {mod.group(1)}"
        pool = _module_names(files, mod.group(1)) if not given else set()
    elif obj and (obj.group(1) or obj.group(2)) != "NoneType":
        cls = obj.group(1) or obj.group(2)
        wrong, owner = obj.group(3), f"{cls} objects"
        pool = _class_attrs(files, cls) if not given else set()
    else:
        return []
    src = site.src
    nodes = [
        n for n in nodes_on_line(site, ast.Attribute) if isinstance(n, ast.Attribute) and n.attr == wrong
    ]
    if not nodes:
        return []
    names = [given] if given else suggestions(wrong, pool)
    scope: ast.AST = func_of(src, nodes[0]) or src.tree
    value_text = {src.segment(n.value) for n in nodes}
    targets = [
        n
        for n in ast.walk(scope)
        if isinstance(n, ast.Attribute) and n.attr == wrong and src.segment(n.value) in value_text
    ]
    spans = [
        (n.end_lineno or n.lineno, (n.end_col_offset or 0) - len(wrong.encode()), n.end_col_offset or 0)
        for n in targets
    ]
    cause = f"{src.path}:{site.line} reads .{wrong}, which {owner} do not have"
    out: list[Candidate] = []
    for rank, right in enumerate(names):
        edit = _rename(src, spans, right)
        if edit:
            out.append(
                Candidate(
                    (edit,),
                    f"{cause} (a misspelling of .{right})",
                    f"Use .{right} instead of .{wrong}",
                    85 - rank * 10 - site.depth * 5,
                    "names.attribute",
                )
            )
    return out


def _rename(src: Source, spans: list[tuple[int, int, int]], new: str) -> SearchReplace | None:
    """Rewrite every (line, byte start, byte end) span to ``new`` in one block."""
    if not spans:
        return None
    by_line: dict[int, list[tuple[int, int]]] = {}
    for line, start, end in spans:
        by_line.setdefault(line, []).append((start, end))
    first, last = min(by_line), max(by_line)
    new_lines = []
    for n in range(first, last + 1):
        raw = src.line_text(n).encode("utf-8")
        for start, end in sorted(by_line.get(n, []), reverse=True):
            raw = raw[:start] + new.encode("utf-8") + raw[end:]
        new_lines.append(raw.decode("utf-8"))
    return unique_edit(src, first, last, new_lines)


def _add_import(src: Source, module: str) -> SearchReplace | None:
    imports = [n for n in src.tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    plain: list[ast.stmt] = [n for n in imports if isinstance(n, ast.Import)] or [
        n for n in imports if isinstance(n, ast.ImportFrom) and n.module == "__future__"
    ]
    if plain:
        anchor = plain[-1]
        end = anchor.end_lineno or anchor.lineno
        return unique_edit(
            src, anchor.lineno, end, [*src.lines[anchor.lineno - 1 : end], f"import {module}\n"]
        )
    body = src.tree.body
    if not body:
        return None
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        end = first.end_lineno or first.lineno
        return unique_edit(
            src, first.lineno, end, [*src.lines[first.lineno - 1 : end], f"\nimport {module}\n"]
        )
    return unique_edit(src, first.lineno, first.lineno, [f"import {module}\n", src.line_text(first.lineno)])
