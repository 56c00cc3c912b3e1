"""Fault context: from an error's in-app frames to the few slices of source a fixer needs.

Each frame is mapped to a repository file by the longest matching path suffix (never by base name
alone: ``handler.py`` in two folders is reported as ambiguous, not guessed). From each mapped file
we cut, with ``ast``: the enclosing function (with decorators), a few lines around the failing
line, the class header of a method, the module imports, and the definitions of names used on the
failing line when they live in the repository (same module, ``from x import y`` of a repo module,
``self.method``).

A token budget (``settings.prompt_token_budget`` minus the trace, the frame list and the prompt's
fixed text) decides what goes first. Drop order, first dropped first (within each step, the
largest piece first, so the fewest pieces are lost):

1. definitions from files no frame points at;
2. definitions inside frame files;
3. class headers of methods;
4. the imports of files other than the innermost frame's;
5. enclosing functions of outer frames, shrunk to signature + window;
6. the imports of the innermost frame's file;
7. the innermost enclosing function, shrunk to signature + window.

Windows around failing lines are never dropped.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from selfheal.domain import pyast
from selfheal.domain.capture import CapturedInput
from selfheal.domain.code_slices import (
    DEFS,
    Piece,
    definition_piece,
    enclosing,
    import_ranges,
    local_names,
    module_file,
    package_of,
    path_parts,
    span,
    statement_at,
    top_level_def,
    used_names,
)
from selfheal.domain.fixing import CodeSection, FixContext
from selfheal.domain.records import ErrorRecord, FrameRef
from selfheal.domain.redact import Redactor
from selfheal.domain.reproduce import reproduction_fields
from selfheal.errors import SourceNotFound
from selfheal.ports import SourceRepository
from selfheal.settings import Settings

CHARS_PER_TOKEN = 3.5  # code tokenises denser than prose; 3.5 errs towards overestimating
PROMPT_OVERHEAD_TOKENS = 780  # system prompt + edit-format instructions + headers (measured ~730)
MIN_SECTION_BUDGET = 400
REPRODUCE_OVERHEAD_TOKENS = 170  # the prompt's wording around the recorded input / test pattern
WINDOW = 3  # lines either side of a failing line
MERGE_GAP = 2  # sections this close are shown as one (saves a header, keeps reading order)
_KIND_ORDER = {"function": 0, "window": 1, "class": 2, "definition": 3, "imports": 4, "module": 5}


def estimate_tokens(text: str) -> int:
    """A cheap token estimate: characters / 3.5 (rounded up), except that a line's indentation
    counts as one token (BPE tokenisers merge runs of spaces; counting them per character would
    make deeply nested code look twice its size)."""
    indent = indented = 0
    for line in text.splitlines():
        n = len(line) - len(line.lstrip(" \t"))
        if n:
            indent += n
            indented += 1
    return math.ceil((len(text) - indent) / CHARS_PER_TOKEN) + indented


# ------------------------------------------------------------------ frame -> file mapping


def _strip_root(path: str, app_roots: Iterable[str]) -> str:
    norm = path.replace("\\", "/")
    for root in sorted(app_roots, key=len, reverse=True):
        if root and norm.startswith(root):
            return norm[len(root):]
    return norm


@dataclass(frozen=True)
class FrameMapping:
    """Where a frame's file lives in the repository, or why it could not be placed."""

    path: str | None
    reason: str | None = None


def map_frame_path(frame_file: str, repo_files: Sequence[str], app_roots: Iterable[str] = ()) -> FrameMapping:
    """Map a frame's file to the repository file sharing the longest path suffix.

    A match counts when it covers the whole frame path, the whole repository path, or at least two
    components; a tie between candidates is ambiguous and is reported, not guessed.
    """
    fparts = path_parts(_strip_root(frame_file, app_roots))
    if not fparts:
        return FrameMapping(None, "empty frame path")
    scored: list[tuple[int, str]] = []
    for cand in repo_files:
        cparts = path_parts(cand)
        if not cparts or cparts[-1] != fparts[-1]:
            continue
        k = 0
        while k < min(len(cparts), len(fparts)) and cparts[-1 - k] == fparts[-1 - k]:
            k += 1
        if k == len(cparts) or k == len(fparts) or k >= 2:
            scored.append((k, cand))
    if not scored:
        return FrameMapping(None, f"no repository file matches {frame_file!r} by path suffix")
    best = max(k for k, _ in scored)
    top = sorted(c for k, c in scored if k == best)
    if len(top) > 1:
        return FrameMapping(None, f"{frame_file!r} is ambiguous: {', '.join(top[:5])} match equally")
    return FrameMapping(top[0])


@dataclass
class _FileInfo:
    path: str
    text: str
    lines: list[str]
    tree: ast.Module | None


@dataclass
class _Builder:
    repo: SourceRepository
    revision: str
    repo_files: list[str]
    files: dict[str, _FileInfo] = field(default_factory=dict)

    def load(self, path: str) -> _FileInfo | None:
        if path not in self.files:
            text = self.repo.read_file(path, self.revision)
            if text is None:
                return None
            try:
                tree: ast.Module | None = pyast.parse(text)
            except (SyntaxError, ValueError):
                tree = None
            self.files[path] = _FileInfo(path, text, text.splitlines(), tree)
        return self.files[path]

    def frame_pieces(self, info: _FileInfo, frame: FrameRef, order: int, innermost: bool) -> list[Piece]:
        line = frame.line or 1
        n = len(info.lines)
        line = min(max(line, 1), max(n, 1))
        window = Piece(info.path, max(1, line - WINDOW), min(n, line + WINDOW), "window", 1000)
        pieces = [window]
        if info.tree is None:
            return pieces
        chain = enclosing(info.tree, line)
        func = next((d for d in reversed(chain) if not isinstance(d, ast.ClassDef)), None)
        shrink_rank = 700 if innermost else 500 + order
        if func is not None:
            start, end = span(func)
            # Lines after the function's end (blank lines, the next def) say nothing about the fault.
            window.start, window.end = max(window.start, start), min(window.end, end)
            sig_end = min(func.body[0].lineno - 1, end) if func.body else start
            signature = Piece(info.path, start, max(start, sig_end), "function", 1000)
            pieces.append(Piece(info.path, start, end, "function", shrink_rank, fallback=[signature]))
        for cls in (d for d in chain if isinstance(d, ast.ClassDef)):
            start, _ = span(cls)
            first = cls.body[0].lineno - 1 if cls.body else start
            header_end = max(start, min(first, start + 5))
            pieces.append(Piece(info.path, start, header_end, "class", 300 + order))
        imports_rank = 600 if innermost else 400 + order
        pieces.extend(Piece(info.path, s, e, "imports", imports_rank) for s, e in import_ranges(info.tree))
        pieces.extend(self._definitions(info, chain, func, line, order))
        return pieces

    def _definitions(self, info: _FileInfo, chain: Sequence[ast.AST], func: ast.AST | None, line: int,
                     order: int) -> list[Piece]:
        assert info.tree is not None
        scope: Sequence[ast.stmt] = func.body if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) \
            else info.tree.body
        stmt = statement_at(scope, line)
        if stmt is None:
            return []
        local = local_names(func) if func is not None else set()
        cls = next((d for d in reversed(chain) if isinstance(d, ast.ClassDef)), None)
        imports = self._imported_names(info)
        out: list[Piece] = []
        for name, attr in used_names(stmt):
            if name == "self" and attr and cls is not None:
                method = next((m for m in cls.body if isinstance(m, DEFS) and m.name == attr), None)
                if method is not None:
                    out.append(definition_piece(info.path, method, 200 + order))
                continue
            if name in local:
                continue
            node = top_level_def(info.tree, name)
            if node is not None and not (func is not None and node is chain[0]):
                out.append(definition_piece(info.path, node, 200 + order))
                continue
            target = imports.get(name)
            if target is not None:
                out.extend(self._imported_definition(target[0], target[1] or attr, order))
        return out

    def _imported_names(self, info: _FileInfo) -> dict[str, tuple[str, str | None]]:
        """Local name -> (repo file, name defined there or None for a module)."""
        assert info.tree is not None
        out: dict[str, tuple[str, str | None]] = {}
        for node in info.tree.body:
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = package_of(info.path, node.level)
                    base = f"{pkg}.{base}".strip(".") if base else pkg
                for alias in node.names:
                    sub = module_file(f"{base}.{alias.name}", self.repo_files)
                    if sub is not None:
                        out[alias.asname or alias.name] = (sub, None)
                        continue
                    path = module_file(base, self.repo_files) if base else None
                    if path is not None:
                        out[alias.asname or alias.name] = (path, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    path = module_file(alias.name, self.repo_files)
                    if path is not None and (alias.asname or "." not in alias.name):
                        out[alias.asname or alias.name] = (path, None)
        return out

    def _imported_definition(self, path: str, name: str | None, order: int) -> list[Piece]:
        if name is None:
            return []
        target = self.load(path)
        if target is None or target.tree is None:
            return []
        node = top_level_def(target.tree, name)
        return [] if node is None else [definition_piece(path, node, 100 + order)]


# ------------------------------------------------------------------ budget and sections


def _merge(pieces: Sequence[Piece], files: dict[str, _FileInfo],
           path_order: Sequence[str]) -> list[CodeSection]:
    by_path: dict[str, list[Piece]] = {}
    for p in pieces:
        by_path.setdefault(p.path, []).append(p)
    sections: list[CodeSection] = []
    ordered = [p for p in path_order if p in by_path] + sorted(set(by_path) - set(path_order))
    for path in ordered:
        lines = files[path].lines
        group = sorted(by_path[path], key=lambda p: (p.start, -p.end))
        cur: list[Piece] = [group[0]]
        start, end = group[0].start, group[0].end
        for p in group[1:]:
            if p.start <= end + MERGE_GAP + 1:
                end = max(end, p.end)
                cur.append(p)
                continue
            sections.append(_section(path, start, end, cur, lines))
            cur, start, end = [p], p.start, p.end
        sections.append(_section(path, start, end, cur, lines))
    return sections


def _section(path: str, start: int, end: int, pieces: Sequence[Piece], lines: list[str]) -> CodeSection:
    kind = min((p.kind for p in pieces), key=lambda k: _KIND_ORDER.get(k, 9))
    return CodeSection(path=path, start_line=start, end_line=end, text="\n".join(lines[start - 1:end]) + "\n",
                       kind=kind)


def _sections_tokens(sections: Sequence[CodeSection]) -> int:
    # Each section also costs its BEGIN/END delimiter lines in the prompt.
    return sum(estimate_tokens(s.text) + estimate_tokens(
        f"=== BEGIN CODE [0123456789ab] {s.path} lines {s.start_line}-{s.end_line} ({s.kind}) ===\n"
        "=== END CODE [0123456789ab] ===\n\n") for s in sections)


def fit_budget(pieces: list[Piece], files: dict[str, _FileInfo], path_order: Sequence[str],
               budget: int) -> tuple[list[CodeSection], list[str]]:
    """Drop or shrink pieces in rank order until the merged sections fit ``budget`` tokens."""
    notes: list[str] = []
    # The same range found from several frames (imports, a class header) is one piece, kept as
    # long as its most important finder needs it.
    unique: dict[tuple[str, int, int, str], Piece] = {}
    for p in pieces:
        key = (p.path, p.start, p.end, p.kind)
        if key not in unique or p.rank > unique[key].rank:
            unique[key] = p
    pieces = list(unique.values())
    sections = _merge(pieces, files, path_order)
    while _sections_tokens(sections) > budget:
        droppable = [p for p in pieces if p.rank < 1000]
        if not droppable:
            notes.append(f"context is over its budget of {budget} tokens with only failing-line windows left")
            break
        victim = min(droppable, key=lambda p: (p.rank // 100, -(p.end - p.start), p.rank))
        pieces.remove(victim)
        pieces.extend(victim.fallback)
        action = "shrank" if victim.fallback else "dropped"
        notes.append(f"{action} {victim.kind} {victim.path}:{victim.start}-{victim.end} "
                     "to fit the token budget")
        sections = _merge(pieces, files, path_order)
    return sections, notes


def build_context(record: ErrorRecord, repo: SourceRepository, revision: str | None = None, *,
                  settings: Settings | None = None, redactor: Redactor | None = None,
                  inputs: Sequence[CapturedInput] = ()) -> FixContext:
    """Build the redacted ``FixContext`` for ``record`` from ``repo`` at ``revision`` (default: head).
    With recorded ``inputs``, it carries their replay (``selfheal.domain.reproduce``).

    Raises ``SourceNotFound`` when no in-app frame maps to a repository file.
    """
    settings = settings or Settings()
    redactor = redactor or Redactor(settings.redact_patterns)
    rev = repo.resolve(revision)
    repo_files = [f for f in repo.list_files(rev) if f.endswith(".py")]
    builder = _Builder(repo, rev, repo_files)
    mapped: list[tuple[FrameRef, str]] = []
    indexed: list[tuple[int, str]] = []
    unmapped: list[FrameRef] = []
    notes: list[str] = []
    for index, frame in enumerate(record.frames):
        m = map_frame_path(frame.file, repo_files, settings.app_roots)
        info = builder.load(m.path) if m.path else None
        if m.path is None or info is None:
            unmapped.append(frame)
            notes.append(m.reason or f"{m.path} could not be read at {rev}")
        else:
            mapped.append((frame, m.path))
            indexed.append((index, m.path))
    if not mapped:
        raise SourceNotFound("no in-app frame maps to a repository file: "
                             + "; ".join(notes or ["the error has no in-app frames"]))
    pieces: list[Piece] = []
    for order, (frame, path) in enumerate(mapped):
        pieces.extend(builder.frame_pieces(builder.files[path], frame, order, order == len(mapped) - 1))
    offered = list(dict.fromkeys(path for _, path in mapped))
    trace = redactor.redact(record.sample_trace)
    message = redactor.redact(record.message)
    frame_lines = "\n".join(f"  {f.file}:{f.line} in {f.function}  |  {f.source or ''}"
                            for f in record.frames)
    replay = reproduction_fields(record, inputs, indexed, repo_files,
                                 lambda p: repo.read_file(p, rev), redactor)
    # The prompt also shows the recorded inputs, or the test pattern with its fixed wording.
    shown = "\n".join([*replay.get("recorded_inputs", [])[:3], replay.get("test_pattern", ""),
                       *replay.get("test_imports", [])])
    budget = max(MIN_SECTION_BUDGET, settings.prompt_token_budget - PROMPT_OVERHEAD_TOKENS
                 - estimate_tokens(trace) - estimate_tokens(message) - estimate_tokens(frame_lines)
                 - estimate_tokens(shown) - REPRODUCE_OVERHEAD_TOKENS)
    if budget == MIN_SECTION_BUDGET:
        notes.append(f"prompt token budget {settings.prompt_token_budget} is below what the trace and the "
                     f"fixed prompt need; the code keeps a minimum of {MIN_SECTION_BUDGET} tokens")
    sections, budget_notes = fit_budget(pieces, builder.files, offered, budget)
    for s in sections:
        s.text = redactor.redact(s.text)
    if redactor.total:
        notes.append("redacted " + ", ".join(f"{k}: {v}" for k, v in sorted(redactor.counts.items())))
    return FixContext(
        **replay,
        fingerprint=record.fingerprint, exc_type=record.exc_type, message=message,
        frames=[f.model_copy(update={"source": redactor.redact(f.source) if f.source else f.source})
                for f in record.frames],
        trace=trace, occurrences=record.count, first_seen=record.first_seen.isoformat(),
        last_seen=record.last_seen.isoformat(), revision=rev, sections=sections, offered_files=offered,
        files={p: redactor.redact(builder.files[p].text) for p in offered},
        unmapped_frames=unmapped, notes=notes + budget_notes,
    )
