"""The edit format: strict parsing, rendering and in-memory application of search/replace blocks.

A reply is plain text. Optional header lines ``ROOT CAUSE: ...`` and ``SUMMARY: ...``, then one or
more blocks::

    <<<<<<< SEARCH path/relative/to/repo.py
    exact existing lines (must occur exactly once in the file)
    =======
    replacement lines
    >>>>>>> REPLACE

An empty SEARCH part creates a new file, allowed only for new test files. Instead of blocks, a
line ``ABSTAIN: <reason>`` declines. Everything here treats the reply as untrusted: paths are
checked against the offered files before anything is applied, and a reply that does not parse is
rejected with a reason that the next attempt receives.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from selfheal.domain.fixing import EditProposal, SearchReplace
from selfheal.errors import EditRejected, ModelReplyMalformed, PatchDoesNotApply

START = "<<<<<<< SEARCH"
DIVIDER = "======="
END = ">>>>>>> REPLACE"
MAX_REPLY_CHARS = 400_000
MAX_BLOCKS = 50

_HEADER = re.compile(r"^(ROOT CAUSE|SUMMARY|ABSTAIN)\s*:\s*(.*)$")
_TEST_FILE = re.compile(r"(^|/)(tests?/.*\.py|test_[^/]*\.py|[^/]*_test\.py)$")


def is_test_path(path: str) -> bool:
    """True for paths that look like test modules (``tests/...py``, ``test_*.py``, ``*_test.py``)."""
    return bool(_TEST_FILE.search(path))


def normalise_path(path: str) -> str:
    """Check a model-supplied path and return it in canonical POSIX form.

    Rejects absolute paths, drive letters, ``..`` segments, NUL bytes and empty paths: the path
    must name a file inside the repository.
    """
    raw = path.strip().strip("`\"'")
    if not raw or "\x00" in raw:
        raise EditRejected(f"empty or invalid path {path!r}")
    raw = raw.replace("\\", "/")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise EditRejected(f"absolute path {raw!r} is not allowed")
    if any(part == ".." for part in raw.split("/")):
        raise EditRejected(f"path {raw!r} leaves the repository")
    norm = posixpath.normpath(raw)
    if norm in (".", "") or norm.startswith("../"):
        raise EditRejected(f"path {raw!r} leaves the repository")
    return norm


def _split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def parse_reply(text: str, offered_files: Iterable[str]) -> EditProposal:
    """Parse a model reply strictly into an ``EditProposal``.

    Raises ``ModelReplyMalformed`` when the structure is broken and ``EditRejected`` when a
    block names a file that was not offered (new test files excepted).
    """
    if len(text) > MAX_REPLY_CHARS:
        raise ModelReplyMalformed(f"reply is {len(text)} characters; the limit is {MAX_REPLY_CHARS}")
    offered = {normalise_path(p) for p in offered_files}
    proposal = EditProposal()
    lines = _split_lines(text)
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(START):
            block, i = _parse_block(lines, i)
            _check_target(block, offered)
            proposal.edits.append(block)
            if len(proposal.edits) > MAX_BLOCKS:
                raise ModelReplyMalformed(f"more than {MAX_BLOCKS} edit blocks")
            continue
        if stripped.startswith((DIVIDER, END)) and stripped in (DIVIDER, END):
            raise ModelReplyMalformed(f"line {i + 1}: {stripped!r} outside a SEARCH block")
        m = _HEADER.match(stripped)
        if m:
            key, value = m.group(1), m.group(2).strip()
            if key == "ROOT CAUSE":
                proposal.root_cause = value
            elif key == "SUMMARY":
                proposal.summary = value
            else:
                proposal.abstain_reason = value or "no reason given"
        i += 1
    if proposal.abstain_reason is not None and proposal.edits:
        raise ModelReplyMalformed("reply both abstains and proposes edits")
    if proposal.abstain_reason is None and not proposal.edits:
        raise ModelReplyMalformed("reply has no edit blocks and no ABSTAIN line")
    return proposal


def _parse_block(lines: list[str], i: int) -> tuple[SearchReplace, int]:
    header = lines[i].strip()
    path = header[len(START):].strip()
    if not path:
        raise ModelReplyMalformed(f"line {i + 1}: SEARCH marker without a file path")
    search: list[str] = []
    replace: list[str] = []
    j = i + 1
    target = search
    seen_divider = False
    while j < len(lines):
        current = lines[j]
        marker = current.strip()
        if marker == DIVIDER and not seen_divider:
            seen_divider = True
            target = replace
        elif marker == END:
            if not seen_divider:
                raise ModelReplyMalformed(f"line {j + 1}: REPLACE marker before '{DIVIDER}'")
            return (
                SearchReplace(path=normalise_path(path), search=_join(search), replace=_join(replace)),
                j + 1,
            )
        elif marker.startswith(START):
            raise ModelReplyMalformed(f"line {j + 1}: new SEARCH block before '{END}'")
        else:
            target.append(current)
        j += 1
    raise ModelReplyMalformed(f"block for {path!r} starting at line {i + 1} is not closed with '{END}'")


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def _check_target(block: SearchReplace, offered: set[str]) -> None:
    if block.path in offered:
        return
    if block.search == "" and is_test_path(block.path):
        return
    raise EditRejected(f"edit of {block.path!r} rejected: only the offered files may be changed "
                       f"({', '.join(sorted(offered)) or 'none'}) plus new test files")


def render_proposal(proposal: EditProposal) -> str:
    """Render a proposal back into the edit format (``parse_reply`` round-trips it)."""
    out: list[str] = []
    if proposal.abstain_reason is not None:
        return f"ABSTAIN: {proposal.abstain_reason}\n"
    if proposal.root_cause:
        out.append(f"ROOT CAUSE: {' '.join(proposal.root_cause.split())}")
    if proposal.summary:
        out.append(f"SUMMARY: {' '.join(proposal.summary.split())}")
    for edit in proposal.edits:
        out.append(f"{START} {edit.path}")
        if edit.search:
            out.append(edit.search.removesuffix("\n"))
        out.append(DIVIDER)
        if edit.replace:
            out.append(edit.replace.removesuffix("\n"))
        out.append(END)
    return "\n".join(out) + "\n"


def apply_proposal(files: dict[str, str], proposal: EditProposal) -> dict[str, str]:
    """Apply every edit to ``files`` (path -> text) and return only the changed files' new text.

    Each search text must occur exactly once in the file as it stands after the previous edits;
    ``PatchDoesNotApply`` names the block that failed. ``files`` is not modified.
    """
    current: dict[str, str] = {}
    for n, edit in enumerate(proposal.edits, start=1):
        if edit.search == "":
            if edit.path in files or edit.path in current:
                raise PatchDoesNotApply(f"block {n}: {edit.path} already exists; a new file needs a new path")
            current[edit.path] = edit.replace
            continue
        text = current.get(edit.path, files.get(edit.path))
        if text is None:
            raise PatchDoesNotApply(f"block {n}: {edit.path} does not exist")
        search, replace = edit.search, edit.replace
        if "\r\n" in text and search not in text:
            # Replies are parsed with LF line ends; match a CRLF file in its own convention.
            search, replace = search.replace("\n", "\r\n"), replace.replace("\n", "\r\n")
        found = text.count(search)
        if found == 0:
            raise PatchDoesNotApply(f"block {n}: the SEARCH text was not found in {edit.path}")
        if found > 1:
            raise PatchDoesNotApply(
                f"block {n}: the SEARCH text occurs {found} times in {edit.path}; it must be unique")
        current[edit.path] = text.replace(search, replace, 1)
    return {path: text for path, text in current.items() if files.get(path) != text}
