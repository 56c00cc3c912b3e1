"""Shared machinery of the rules fixer: locate the failing line in the offered source, walk the
AST around it, and turn a change of a few lines into an exact, unique search/replace edit.

Everything works on the exact file text: a search block is always whole lines copied from the
file, widened with neighbouring lines until it occurs exactly once.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from selfheal.domain import pyast
from selfheal.domain.fixing import FixContext, SearchReplace
from selfheal.domain.records import FrameRef

FuncNode = ast.FunctionDef | ast.AsyncFunctionDef
MAX_CONTEXT_LINES = 12


@dataclass(frozen=True)
class Candidate:
    """One proposed fix: edits plus the explanation, and a score (higher is tried first)."""

    edits: tuple[SearchReplace, ...]
    root_cause: str
    summary: str
    score: float
    rule: str = ""


@dataclass
class Source:
    """One offered file: exact text, its lines (with line endings) and its parsed tree."""

    path: str
    text: str
    tree: ast.Module
    lines: list[str] = field(init=False)
    _parents: dict[int, ast.AST] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines(keepends=True)
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self._parents[id(child)] = node

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self._parents.get(id(node))

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        current = self.parent(node)
        while current is not None:
            yield current
            current = self.parent(current)

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ""

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


@dataclass(frozen=True)
class Site:
    """The failing line of one in-app frame, resolved in its file (depth 0 = innermost)."""

    src: Source
    line: int
    frame: FrameRef
    depth: int


def base_type(exc_type: str) -> str:
    """``decimal.DivisionByZero`` -> ``DivisionByZero``."""
    return exc_type.rsplit(".", 1)[-1].strip()


def map_frame(frame_file: str, offered: list[str]) -> str | None:
    """The offered path sharing the most trailing path segments with ``frame_file`` (a match
    covers the whole offered path, the whole frame path, or at least two segments); a tie is
    ambiguous and maps to nothing."""
    fparts = [p for p in frame_file.replace("\\", "/").split("/") if p not in ("", ".")]
    scored: list[tuple[int, str]] = []
    for path in offered:
        cparts = [p for p in path.split("/") if p]
        k = 0
        while k < min(len(cparts), len(fparts)) and cparts[-1 - k] == fparts[-1 - k]:
            k += 1
        if k and (k == len(cparts) or k == len(fparts) or k >= 2):
            scored.append((k, path))
    if not scored:
        return None
    best = max(k for k, _ in scored)
    top = [p for k, p in scored if k == best]
    return top[0] if len(top) == 1 else None


def resolve_line(src: Source, frame: FrameRef) -> int | None:
    """The 1-based line of ``frame`` in ``src``: the printed line number when its text matches the
    printed source line, else the nearest line with that exact text (the code moved)."""
    wanted = (frame.source or "").strip()
    if frame.line and not wanted:
        return frame.line if 0 < frame.line <= len(src.lines) else None
    if frame.line and src.line_text(frame.line).strip() == wanted:
        return frame.line
    matches = [n for n, text in enumerate(src.lines, start=1) if text.strip() == wanted]
    if not matches:
        return None
    anchor = frame.line or 0
    return min(matches, key=lambda n: (abs(n - anchor), -n))  # ties: code more often moves down


def locate_sites(ctx: FixContext) -> list[Site]:
    """Resolved failing lines of the in-app frames, innermost first; unparsable files skipped."""
    parsed: dict[str, Source | None] = {}
    sites: list[Site] = []
    for depth, frame in enumerate(reversed(ctx.frames)):
        path = map_frame(frame.file, ctx.offered_files)
        if path is None or path not in ctx.files:
            continue
        if path not in parsed:
            try:
                parsed[path] = Source(path, ctx.files[path], pyast.parse(ctx.files[path]))
            except (SyntaxError, ValueError):
                parsed[path] = None
        src = parsed[path]
        if src is None:
            continue
        line = resolve_line(src, frame)
        if line is not None:
            sites.append(Site(src, line, frame, depth))
    return sites


def nodes_on_line(site: Site, kind: type[ast.AST] | tuple[type[ast.AST], ...]) -> list[ast.AST]:
    """Nodes of ``kind`` starting on the failing line; else those spanning it (source order)."""
    spanning: list[ast.AST] = []
    starting: list[ast.AST] = []
    for node in ast.walk(site.src.tree):
        if not isinstance(node, kind) or not hasattr(node, "lineno"):
            continue
        end = getattr(node, "end_lineno", None) or node.lineno
        if node.lineno == site.line:
            starting.append(node)
        elif node.lineno <= site.line <= end:
            spanning.append(node)
    found = starting or spanning
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))  # type: ignore[attr-defined]


def stmt_of(src: Source, node: ast.AST) -> ast.stmt | None:
    if isinstance(node, ast.stmt):
        return node
    for anc in src.ancestors(node):
        if isinstance(anc, ast.stmt):
            return anc
    return None


def func_of(src: Source, node: ast.AST) -> FuncNode | None:
    for anc in src.ancestors(node):
        if isinstance(anc, ast.FunctionDef | ast.AsyncFunctionDef):
            return anc
        if isinstance(anc, ast.ClassDef | ast.Lambda):
            return None
    return None


def loop_of(src: Source, stmt: ast.stmt) -> ast.For | ast.While | ast.AsyncFor | None:
    """The innermost loop whose body holds ``stmt`` (within the same function)."""
    child: ast.AST = stmt
    for anc in src.ancestors(stmt):
        if isinstance(anc, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            return None
        if isinstance(anc, ast.For | ast.While | ast.AsyncFor) and child in anc.body:
            return anc
        child = anc
    return None


def loop_names(loop: ast.For | ast.While | ast.AsyncFor) -> set[str]:
    if isinstance(loop, ast.While):
        return set()
    return {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def is_pure(node: ast.AST) -> bool:
    """Side-effect-free expressions that are safe to evaluate twice (names, attribute and
    constant-subscript chains, ``len``/``abs`` of those, arithmetic of those)."""
    if isinstance(node, ast.Name | ast.Constant):
        return True
    if isinstance(node, ast.Attribute):
        return is_pure(node.value)
    if isinstance(node, ast.Subscript):
        return is_pure(node.value) and is_pure(node.slice)
    if isinstance(node, ast.UnaryOp):
        return is_pure(node.operand)
    if isinstance(node, ast.BinOp):
        return is_pure(node.left) and is_pure(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return (
            node.func.id in {"len", "abs", "float", "int"}
            and not node.keywords
            and all(is_pure(a) for a in node.args)
        )
    return False


# --- turning changed lines into edits ------------------------------------------------------------


def _col(line: str, byte_col: int) -> int:
    """AST column offsets count UTF-8 bytes; convert to a str index."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def unique_edit(src: Source, start: int, end: int, new_lines: list[str]) -> SearchReplace | None:
    """Replace lines ``start..end`` (1-based, inclusive) by ``new_lines`` as a search/replace
    block whose search text occurs exactly once, widening with context lines as needed."""
    lines = src.lines
    if not (0 < start <= end <= len(lines)) or not lines[end - 1].endswith("\n"):
        return None
    before, after = start, end
    for _ in range(MAX_CONTEXT_LINES + 1):
        search = "".join(lines[before - 1 : after])
        if src.text.count(search) == 1 and search.strip():
            replace = "".join(lines[before - 1 : start - 1]) + "".join(new_lines) + "".join(lines[end:after])
            return SearchReplace(path=src.path, search=search, replace=replace)
        if before > 1:
            before -= 1
        if after < len(lines) and lines[after].endswith("\n"):
            after += 1
    return None


def replace_node(src: Source, node: ast.AST, new_text: str) -> SearchReplace | None:
    """Replace the exact source span of expression ``node`` by ``new_text``."""
    start, end = node.lineno, node.end_lineno  # type: ignore[attr-defined]
    if end is None:
        return None
    first, last = src.line_text(start), src.line_text(end)
    head = first[: _col(first, node.col_offset)]  # type: ignore[attr-defined]
    tail = last[_col(last, node.end_col_offset) :]  # type: ignore[attr-defined]
    return unique_edit(src, start, end, [head + new_text + tail])


def replace_span(
    src: Source, line: int, byte_start: int, byte_end: int, new_text: str
) -> SearchReplace | None:
    """Replace columns ``byte_start..byte_end`` of one line by ``new_text``."""
    text = src.line_text(line)
    return unique_edit(
        src, line, line, [text[: _col(text, byte_start)] + new_text + text[_col(text, byte_end) :]]
    )


def indent_of(src: Source, line: int) -> str:
    text = src.line_text(line)
    return text[: len(text) - len(text.lstrip(" \t"))]


def can_insert_before(src: Source, stmt: ast.stmt) -> bool:
    """A statement can get a guard above it when it starts its own line (not ``elif``, not
    after ``;`` or a one-line ``if x: ...``)."""
    text = src.line_text(stmt.lineno)
    indent = indent_of(src, stmt.lineno)
    return _col(text, stmt.col_offset) == len(indent) and not text.lstrip().startswith(("elif", "else"))


def insert_before(src: Source, stmt: ast.stmt, block: list[str]) -> SearchReplace | None:
    """Insert ``block`` (lines relative to the statement's indentation) above ``stmt``."""
    if not can_insert_before(src, stmt):
        return None
    indent = indent_of(src, stmt.lineno)
    unit = "\t" if indent.startswith("\t") else "    "
    new = [indent + line.replace("\t", unit) + "\n" for line in block]
    return unique_edit(src, stmt.lineno, stmt.lineno, new + [src.line_text(stmt.lineno)])


def apply_check(src: Source, edit: SearchReplace) -> bool:
    """The edit applies once and the file still parses."""
    if src.text.count(edit.search) != 1:
        return False
    try:
        pyast.parse(src.text.replace(edit.search, edit.replace, 1))
    except SyntaxError:
        return False
    return True
