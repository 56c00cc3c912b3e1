"""Runs of plain frame and source lines inside a traceback, taken in one regex match.

Most lines of a traceback are ``  File "...", line N, in f`` and the source line under it. Line
by line, ``TracebackScanner.accept_plain`` decides each one in about a microsecond of Python;
``RunFinder`` finds where a whole run of them ends with one match of ``PLAIN_RUN_RE`` (or
``NBSP_RUN_RE``, or the same behind the block's log prefix) on the undecoded bytes, and
``take_run`` applies the run's effect on the block at once: its lines, the byte and frame
counts, and the frames parsed on the way (``block.fast``, from one ``FRAME_SRC_RE.findall``).
``embedded_lines`` does the same inside a traceback carried whole by one record (JSON-escaped,
an invoke response).

The run patterns accept only lines the hot path accepts with a known effect: printable ASCII
(no-break-space indentation and ``\\r`` terminators too where ``clean`` would turn them into
the plain form), a frame with a line number and a function without spaces, or an indented
source line that is no chain separator, repeat marker, ellipsis, JSON record or header. Lines
holding a text the line-by-line path looks at (``EXCLUDED``) end a run, and a run that would
reach a cap, holds a line, path or function longer than the line-by-line path reads, or hides a
``File "`` in a source line is left to the line-by-line path. The differential tests in
``tests/unit/test_extract_stream.py`` hold both paths equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from selfheal.domain.extract.block import Block
from selfheal.domain.extract.lines import MAX_LINE, clean
from selfheal.domain.traceback import Frame, Traceback

if TYPE_CHECKING:
    from selfheal.domain.extract.scanner import TracebackScanner

RUNS = True  # tests turn runs off inside embedded tracebacks to compare with the line-by-line path

TERM = rb"(?:\r\n?|\n)"  # what ends a line read with newline="": "\n", "\r\n" or a lone "\r"
# The patterns match undecoded UTF-8 (the stream is decoded only where lines are read). They are
# possessive (nothing to backtrack: several times faster in `re`) and unbounded: the bounds of
# FRAME_RE (path, function) are held by FRAME_SRC_RE and MAX_LINE by take_run.
_FRAME = rb'File "[ !#-~]++", line \d{1,9}+, in [!-~]++(?<!,) *+'
# A source line: no separator, no frame, no JSON record ("{" is left out of the first character).
_SRC = rb'(?!The above|During|File ")[!-z|-~][ -~]*+'
PLAIN_RUN_RE = re.compile(rb"(?:(?: *+" + _FRAME + rb"| ++" + _SRC + rb")" + TERM + rb")++")
# The same indented with no-break spaces (the Lambda runtime's), which clean() makes spaces.
_IND = rb"(?:\xc2\xa0| )"
NBSP_RUN_RE = re.compile(
    rb"(?:(?:" + _IND + rb"*+" + _FRAME + rb"|" + _IND + rb"++" + _SRC + rb")" + TERM + rb")++")
# In the decoded run (prefixes removed, "\n" terminators, a "\n" put first): a frame line and the
# line under it (FRAME_RE's bounds are checked by _long_lines).
FRAME_SRC_RE = re.compile(
    r'\n *+File "([^"\n]++)", line (\d++), in (\S++) *+(?=\n)(?:\n(?! *File ") ++(\S[^\n]*+))?')
_MAX_PATH, _MAX_FUNCTION = 2000, 400  # FRAME_RE's bounds (the run patterns hold the digits to 9)
_RUN_FIRST = frozenset(b" \xc2F")  # how an unprefixed run line starts: indentation or `File "`
_SHORT = MAX_LINE - 2  # a run no longer than this has no line longer than MAX_LINE (terminator included)
# What the line-by-line path tests for (markers, ANSI remnants, headers): a run stops before it.
EXCLUDED = ("Trace", "[Previous", "...", "[0m", "[0;", "[1;")


@lru_cache(maxsize=64)
def prefixed_patterns(prefix: str) -> tuple[re.Pattern[bytes] | None, re.Pattern[str]]:
    """The run pattern behind the log prefix ``prefix`` (a ``prefix_pattern`` source; None when
    it is not ASCII) and the pattern of one decoded line's content. The prefix is matched
    atomically, as ``prefix_re.match`` matches it on its own, and the whole line must be
    printable ASCII (what ``accept_plain`` takes without cleaning; there ``\\w`` means the same
    in bytes and in text)."""
    if not prefix.isascii():
        return None, re.compile(rf"(?>{prefix})([^\r\n]*)(?:\r\n?|\n)")
    head = rb"(?=[ -~]*+[\r\n])(?! *\{)(?>" + prefix.encode("ascii") + rb")"
    run = re.compile(rb"(?:" + head + rb"(?: *+" + _FRAME + rb"| ++" + _SRC + rb")" + TERM + rb")++")
    return run, re.compile(rf"(?>{prefix})([^\r\n]*)(?:\r\n?|\n)")


def run_eligible(block: Block) -> bool:
    """True when the block is where ``_fast_accept`` decides frame and source lines."""
    return (block.state == "body" and block.json is None and block.tail is None and block.pending is None
            and not block.group and not block.ipy)


class RunFinder:
    """Finds where the run of plain lines at a position ends, remembering the last run matched
    (with the lines in it that hold an ``EXCLUDED`` text), so that a run interrupted by such
    lines is matched once, not once per interruption."""

    __slots__ = ("block", "end", "bad", "next_bad")

    def __init__(self) -> None:
        self.block: Block | None = None
        self.end = 0
        self.bad: list[int] = []
        self.next_bad = 0

    def reset(self) -> None:
        """Forget the last run (the text it indexes has moved)."""
        self.block = None

    def run_end(self, block: Block, data: bytes, pos: int, endpos: int) -> int:
        """End of the run of plain lines of ``block`` at ``data[pos:endpos]`` (``pos`` is a line
        start); ``pos`` itself when there is none."""
        if self.block is not block or pos >= self.end:
            prefix_re = block.prefix_re
            if prefix_re is None and data[pos] not in _RUN_FIRST:
                return pos  # most lines that end a run say so by their first byte
            if prefix_re is not None:
                pattern = prefixed_patterns(prefix_re.pattern)[0]
            else:
                pattern = NBSP_RUN_RE if data[pos : pos + 1] == b"\xc2" else PLAIN_RUN_RE
            m = pattern.match(data, pos, endpos) if pattern is not None else None
            if m is None:
                self.block = None
                return pos
            self.block, self.end, self.next_bad = block, m.end(), 0
            run = m.group()
            found = b"Trace" in run or b"..." in run or (b"[" in run and (  # EXCLUDED, spelled out
                b"[Previous" in run or b"[0m" in run or b"[0;" in run or b"[1;" in run))
            self.bad = _bad_lines(pos, run) if found else []
        bad = self.bad
        while self.next_bad < len(bad) and bad[self.next_bad] < pos:
            self.next_bad += 1
        return bad[self.next_bad] if self.next_bad < len(bad) else self.end


def _bad_lines(start: int, run: bytes) -> list[int]:
    """Start indexes (the run is at ``start``) of the run's lines holding an ``EXCLUDED`` text."""
    starts = set()
    for m in _EXCLUDED_RE.finditer(run):
        i = max(run.rfind(b"\n", 0, m.start()), run.rfind(b"\r", 0, m.start()))
        starts.add(start + i + 1)
    return sorted(starts)


_EXCLUDED_RE = re.compile(b"|".join(re.escape(s.encode()) for s in EXCLUDED))


def take_run(block: Block, run: str, max_bytes: int, max_frames: int) -> int:
    """Take ``run`` (whole lines found by ``RunFinder``, terminators included) into ``block``
    (which must be ``run_eligible``): the number of lines taken, 0 when the line-by-line path
    must read them (a cap would be reached, or a source line holds ``File "``). The caller sets
    ``block.last_line``."""
    prefix_re = block.prefix_re
    if prefix_re is None:
        if "\r" in run or "\xa0" in run:
            contents = run.replace("\xa0", " ").splitlines()  # as clean() and split_logical() would
            joined = "\n".join(contents) + "\n"
        else:
            contents = run.splitlines()
            joined = run
    else:
        contents = prefixed_patterns(prefix_re.pattern)[1].findall(run)
        joined = "\n".join(contents) + "\n"
    found = FRAME_SRC_RE.findall("\n" + joined)
    if (len(found) != joined.count('File "') or block.nbytes + len(joined) >= max_bytes
            or block.frames + len(found) > max_frames
            or _long_lines(run, contents, found)):
        return 0
    if block.fast_end is None:
        block.expect_src = _add_frames(block.fast, block.expect_src, contents, found)
    block.frames += len(found)
    block.head.extend(contents)
    block.nbytes += len(joined)
    block.blanks = 0
    block.last_kind = "frame" if 'File "' in contents[-1] else "source"
    # block.stamped is left alone: it describes the line being read, set before each is read.
    return len(contents)


def _add_frames(frames: list[Frame], expect_source: bool, contents: list[str],
                found: list[tuple[str, str, str, str]]) -> bool:
    """Append the run's frames (``found``, with the line under each) to ``frames``; the first
    line of the run is the source of ``frames[-1]`` when ``expect_source``. Returns whether
    the last frame still expects its source (the run ends with it)."""
    if expect_source and 'File "' not in contents[0]:
        st = contents[0].strip()  # the source line of the frame before the run
        if st.strip("^~ -") and st[0] not in "│└┃":
            frames[-1].source = st
    for file, line, func, src in found:
        frame = Frame(file, int(line), func)
        if src:
            st = src.rstrip()
            if st.strip("^~ -") and st[0] not in "│└┃":  # parse.is_marker, inlined
                frame.source = st
        frames.append(frame)
    return bool(found) and 'File "' in contents[-1]


def _long_lines(run: str, contents: list[str], found: list[tuple[str, str, str, str]]) -> bool:
    """True when a line of ``run`` is longer than ``MAX_LINE`` allows or a frame's path or
    function longer than ``FRAME_RE`` takes (the line-by-line path must read them)."""
    if len(run) <= _MAX_FUNCTION:
        return False
    if len(run) > _SHORT and max(map(len, run.splitlines())) > _SHORT:
        return True
    return max(map(len, contents)) > _MAX_FUNCTION and any(
        len(path) > _MAX_PATH or len(func) > _MAX_FUNCTION for path, _, func, _ in found)


def plain_breaks(text: str) -> bool:
    """True when ``text`` is ASCII and breaks lines only with ``\\n``, ``\\r\\n`` or ``\\r``
    (then ``str.splitlines`` cuts it where the run patterns do, at the same indexes in bytes)."""
    return text.isascii() and not ("\x0b" in text or "\x0c" in text or "\x1c" in text or "\x1d" in text
                                   or "\x1e" in text)


def embedded_lines(seg: TracebackScanner, text: str, lineno: int) -> Iterator[Traceback]:
    """Feed ``seg`` the lines of ``text`` (one record's traceback, all on line ``lineno``) as
    ``TracebackScanner._embedded`` does line by line (``clean``, ``_try_line``, ``_line``), taking
    runs of plain lines at once. ``text`` must satisfy ``plain_breaks``."""
    data = text.encode("ascii")
    finder = RunFinder()
    pos = norun = 0
    n = len(text)
    while pos < n:
        block = seg.block
        if block is not None and pos >= norun and run_eligible(block):
            end = finder.run_end(block, data, pos, n)
            if end > pos:
                if take_run(block, text[pos:end], seg.max_bytes, seg.max_frames):
                    block.last_line = lineno
                    pos = end
                    continue
                norun = end
        nl = text.find("\n", pos)
        stop = n if nl < 0 else nl
        nxt = stop + 1
        cr = text.find("\r", pos, stop)
        if cr >= 0:
            stop, nxt = cr, (cr + 2 if cr + 1 == nl else cr + 1)
        line = clean(text[pos:stop])
        if not seg._try_line(line, lineno):
            yield from seg._line(line, lineno)
        pos = nxt
