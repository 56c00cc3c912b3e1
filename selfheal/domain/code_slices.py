"""Slices of Python source cut with ``ast``: enclosing definitions, the statement on a line, the
names it reads, where those names are defined, and the imports. Used by ``selfheal.domain.context``.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field

DEF_MAX_LINES = 40
MAX_NAMES_PER_LINE = 12


def path_parts(path: str) -> list[str]:
    """POSIX components of ``path`` (backslashes count as separators; empty and ``.`` dropped)."""
    return [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]


@dataclass
class Piece:
    """A candidate line range; ``rank`` orders dropping (lower goes first), ``fallback`` replaces it."""

    path: str
    start: int
    end: int
    kind: str
    rank: int
    fallback: list[Piece] = field(default_factory=list)


def span(node: ast.AST) -> tuple[int, int]:
    start = node.lineno  # type: ignore[attr-defined]
    for dec in getattr(node, "decorator_list", []):
        start = min(start, dec.lineno)
    return start, node.end_lineno or start  # type: ignore[attr-defined]


DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def enclosing(tree: ast.Module, line: int) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """Definitions containing ``line``, outermost first."""
    chain: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
    body: list[ast.stmt] = tree.body
    while True:
        for node in body:
            if isinstance(node, DEFS):
                start, end = span(node)
                if start <= line <= end:
                    chain.append(node)
                    body = node.body
                    break
        else:
            return chain


def statement_at(scope: Sequence[ast.stmt], line: int) -> ast.stmt | None:
    """The innermost statement whose lines contain ``line``."""
    best: ast.stmt | None = None
    for node in scope:
        for sub in ast.walk(node):
            if not (isinstance(sub, ast.stmt) and sub.lineno <= line <= (sub.end_lineno or sub.lineno)):
                continue
            if best is None or (sub.end_lineno or 0) - sub.lineno <= (best.end_lineno or 0) - best.lineno:
                best = sub
    return best


def header_exprs(stmt: ast.stmt) -> list[ast.AST]:
    """The parts of a statement on its own lines (not the bodies of compound statements)."""
    if isinstance(stmt, ast.If | ast.While):
        return [stmt.test]
    if isinstance(stmt, ast.For | ast.AsyncFor):
        return [stmt.target, stmt.iter]
    if isinstance(stmt, ast.With | ast.AsyncWith):
        return list(stmt.items)
    if isinstance(stmt, (ast.Try, *DEFS)):
        return []
    return [stmt]


def used_names(stmt: ast.stmt) -> list[tuple[str, str | None]]:
    """``(name, attr)`` pairs read by the statement: ``foo`` -> (foo, None), ``self.bar`` -> (self, bar)."""
    out: list[tuple[str, str | None]] = []
    for expr in header_exprs(stmt):
        for node in ast.walk(expr):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                out.append((node.value.id, node.attr))
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                out.append((node.id, None))
    seen: set[tuple[str, str | None]] = set()
    return [x for x in out if not (x in seen or seen.add(x))][:MAX_NAMES_PER_LINE]  # type: ignore[func-returns-value]


def local_names(func: ast.AST) -> set[str]:
    names: set[str] = set()
    if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
        a = func.args
        names.update(x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs])
        names.update(x.arg for x in (a.vararg, a.kwarg) if x is not None)
        for node in ast.walk(func):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def top_level_def(tree: ast.Module, name: str) -> ast.stmt | None:
    for node in tree.body:
        if isinstance(node, DEFS) and node.name == name:
            return node
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return node
    return None


def definition_piece(path: str, node: ast.stmt, rank: int) -> Piece:
    start, end = span(node)
    if end - start + 1 > DEF_MAX_LINES:
        if isinstance(node, DEFS) and node.body:
            # Signature (and docstring), or a class's fields up to its first method.
            body_end = node.body[0].end_lineno or node.body[0].lineno
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if isinstance(stmt, DEFS):
                        break
                    body_end = stmt.end_lineno or stmt.lineno
            end = min(body_end, start + DEF_MAX_LINES - 1)
        else:
            end = start + DEF_MAX_LINES - 1
    return Piece(path, start, end, "definition", rank)


def import_ranges(tree: ast.Module) -> list[tuple[int, int]]:
    return [(n.lineno, n.end_lineno or n.lineno) for n in tree.body
            if isinstance(n, ast.Import | ast.ImportFrom)]


def module_file(module: str, repo_files: Sequence[str]) -> str | None:
    tail = module.replace(".", "/")
    names = (f"{tail}.py", f"{tail}/__init__.py")
    hits = sorted((f for f in repo_files if f in names or f.endswith(tuple("/" + n for n in names))),
                  key=lambda f: (len(f), f))
    if not hits or (len(hits) > 1 and len(hits[0]) == len(hits[1])):
        return None
    return hits[0]


def package_of(path: str, level: int) -> str:
    parts = path_parts(path)[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts)
