"""Extract tracebacks from a text stream read in large chunks (the path of ``selfheal parse``).

``extract_from_stream(stream)`` yields exactly what ``extract_tracebacks`` yields over the same
stream's lines when it is opened with ``newline=""`` (``\\n``, ``\\r\\n`` and a lone ``\\r`` end
a line, kept on it), line numbers included; a differential test holds the two equal. It is
faster because most of the text is never cut into lines:

* between tracebacks, ``str.find`` jumps to the next line holding ``Trace`` or ``File "`` (the
  only lines the line-by-line loop does not skip) and ``str.count`` keeps the line numbers;
* inside a traceback, runs of plain frame and source lines are taken by one regex match
  (``runs.take_run``); the other lines (the header, the exception line, separators, markers,
  JSON records, the line that ends the block) go through the scanner one by one as before.

Memory stays bounded by the chunk, the traceback in progress and the last ``RECENT_LINES``
lines (kept for the line before a header and for pretty-printed invoke responses).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from selfheal.domain.extract.block import Block
from selfheal.domain.extract.documents import RECENT_LINES, pretty_document_start
from selfheal.domain.extract.lines import HEADER_TEXT
from selfheal.domain.extract.runs import RunFinder, run_eligible, take_run
from selfheal.domain.extract.scanner import PLAIN_ENDED, TracebackScanner
from selfheal.domain.traceback import Traceback

__all__ = ["CHUNK_CHARS", "extract_from_stream"]

CHUNK_CHARS = 1 << 16  # bytes per read: small enough to stay in cache, large enough for find() to pay
_CR = (b"\r",)
_CANDIDATES = (b"Trace", b'File "')
_HEADER = HEADER_TEXT + ":"
_BARE_HEADERS = frozenset(_HEADER + end for end in ("", "\n", "\r\n", "\r"))


class _Text:
    """The text read so far that is still needed: ``buf``, of which lines start at every index
    after a terminator; ``limit`` ends the last complete line (a ``\\r`` at the very end may yet
    be the first half of ``\\r\\n``). ``hits`` caches the next index of searched texts."""

    __slots__ = ("stream", "chunk", "buf", "limit", "eof", "has_cr", "hits")

    def __init__(self, stream: BinaryIO, chunk: int) -> None:
        self.stream = stream
        self.chunk = max(1, chunk)
        self.buf = b""
        self.limit = 0
        self.eof = False
        self.has_cr = False
        self.hits: dict[bytes, int] = {}

    def refill(self, pos: int) -> int:
        """Read more; drop what lies more than ``RECENT_LINES`` lines before ``pos``. Returns the
        new index of ``pos``."""
        want = self.chunk
        while True:
            data = self.stream.read(want)
            if not data:
                self.eof = True
            cut = self._history_start(pos)
            self.buf = self.buf[cut:] + data
            pos -= cut
            self.has_cr = b"\r" in self.buf
            self.limit = self._complete()
            self.hits.clear()
            if self.limit > pos or self.eof:
                return pos
            want *= 2  # a line longer than a chunk: read more at a time (linear, not quadratic)

    def _complete(self) -> int:
        buf = self.buf
        if self.eof:
            return len(buf)
        i = buf.rfind(b"\n")
        if self.has_cr:
            r = buf.rfind(b"\r", max(i, 0))
            if r == len(buf) - 1:
                r = buf.rfind(b"\r", max(i, 0), len(buf) - 1)
            i = max(i, r)
        return i + 1

    def prev_start(self, end: int) -> int:
        """Start of the line that ends just before index ``end`` (a line start); -1 for none."""
        buf = self.buf
        i = end - 1
        if i < 0:
            return -1
        if i > 0 and buf[i] == 10 and buf[i - 1] == 13:  # "\r\n"
            i -= 1
        j = buf.rfind(b"\n", 0, i)
        if self.has_cr:
            j = max(j, buf.rfind(b"\r", max(j, 0), i))
        return j + 1

    def _history_start(self, pos: int) -> int:
        start = pos
        for _ in range(RECENT_LINES):
            prev = self.prev_start(start)
            if prev < 0:
                break
            start = prev
        return start

    def count_lines(self, a: int, b: int) -> int:
        """Lines that end in ``buf[a:b]`` (``a`` and ``b`` line starts)."""
        buf = self.buf
        n = buf.count(b"\n", a, b)
        if self.has_cr:
            i = self.next_hit(a, _CR)  # few: a lone "\r" is rare between tracebacks
            while 0 <= i < b:
                if buf[i + 1 : i + 2] != b"\n":
                    n += 1
                i = self.next_hit(i + 1, _CR)
        return n

    def line_end(self, pos: int) -> int:
        buf = self.buf
        i = buf.find(b"\n", pos, self.limit)
        end = i + 1 if i >= 0 else self.limit
        if self.has_cr:
            r = buf.find(b"\r", pos, end)
            if 0 <= r < end - 1 and buf[r + 1] != 10:  # a lone "\r" ends the line first
                return r + 1
        return end

    def line_start(self, pos: int, hit: int) -> int:
        """Start of the line holding index ``hit`` (not before ``pos``, a line start)."""
        buf = self.buf
        i = buf.rfind(b"\n", pos, hit)
        if self.has_cr:
            i = max(i, buf.rfind(b"\r", max(i, pos), hit))
        return i + 1 if i >= 0 else pos

    def next_hit(self, pos: int, texts: tuple[bytes, ...]) -> int:
        """Index of the first of ``texts`` at or after ``pos`` in ``buf``, or -1."""
        best = -1
        hits = self.hits
        for text in texts:
            i = hits.get(text, -2)
            if i != -1 and i < pos:
                i = hits[text] = self.buf.find(text, pos)
            if i >= 0 and (best < 0 or i < best):
                best = i
        return best


def extract_from_stream(stream: BinaryIO, *, max_frames: int = 1000, max_bytes: int = 256 * 1024,
                        chunk_chars: int = CHUNK_CHARS) -> Iterator[Traceback]:
    """Yield every Python traceback in ``stream`` (a text stream opened with ``newline=""``),
    reading ``chunk_chars`` characters at a time; the same as ``extract_tracebacks(stream)``."""
    seg = TracebackScanner(max_frames, max_bytes)
    text = _Text(stream, chunk_chars)
    pos = 0
    done = 0  # lines before pos
    norun = 0  # no run is tried before this index (one the line-by-line path must read)
    runs = RunFinder()
    while True:
        if pos >= text.limit:
            if text.eof:
                break
            old = pos
            pos = text.refill(pos)
            norun -= old - pos
            runs.reset()
            continue
        buf = text.buf
        block = seg.block
        if block is None:
            hit = text.next_hit(pos, _CANDIDATES)
            if hit < 0 or hit >= text.limit:
                done += text.count_lines(pos, text.limit)
                pos = text.limit
                continue
            start = text.line_start(pos, hit)
            done += text.count_lines(pos, start)
            pos = start
            end = text.line_end(pos)
            raw = buf[pos:end].decode("utf-8", "replace")
            lineno = done + 1
            if raw in _BARE_HEADERS:
                # A header alone on its line (most are): the block feed() and _idle() would open.
                _history(seg, text, pos, lineno, False)
                seg.block = Block(lineno, None)
                seg.block.before = seg.prev
                seg.block.head.append(_HEADER)
                seg.block.nbytes = len(_HEADER) + 1
            else:
                _history(seg, text, pos, lineno, pretty_document_start(raw))
                yield from seg.feed(raw, lineno)
            done += 1
            pos = end
            continue
        if pos >= norun and run_eligible(block):
            end = runs.run_end(block, buf, pos, text.limit)
            if end > pos:
                taken = take_run(block, buf[pos:end].decode(), seg.max_bytes, seg.max_frames)
                if taken:
                    done += taken
                    block.last_line = done
                    pos = end
                    continue
                norun = end
        end = text.line_end(pos)
        raw = buf[pos:end].decode("utf-8", "replace")
        lineno = done + 1
        plain = seg.accept_plain(block, raw, lineno)
        if plain:
            if plain == PLAIN_ENDED:
                yield from seg.restart(lineno)
        else:
            yield from seg.feed(raw, lineno)
        done += 1
        pos = end
    yield from seg.finish()


def _history(seg: TracebackScanner, text: _Text, start: int, lineno: int, ring: bool) -> None:
    """Before an idle line is fed: the line before it (``seg.prev``), and when ``ring`` the
    scanner's ring of recent lines, as ``extract_tracebacks`` keeps them."""
    mask = RECENT_LINES - 1
    end = start
    for back in range(1, RECENT_LINES if ring else 2):
        prev = text.prev_start(end) if end >= 0 else -1
        line = text.buf[prev:end].decode("utf-8", "replace") if prev >= 0 else ""
        if back == 1:
            seg.prev = line
        if ring:
            seg.recent[(lineno - back) & mask] = line
        end = prev
