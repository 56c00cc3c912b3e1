"""Find Python tracebacks in a stream of log lines.

``extract_tracebacks`` reads any iterable of lines once, holds at most one (capped) traceback in
memory and yields ``Traceback`` objects as soon as each one ends. It is a small state machine:

* idle: a cheap substring test (``Trace``, ``File "``) rejects ordinary log lines; only
  candidate lines get normalised (``\\r`` splitting, ANSI, no-break spaces) and matched.
* in a block: lines are stripped of the log prefix seen on the header line (timestamps, levels,
  ``svc_1 |``, ``INTERNALERROR>``; numbers may vary between lines) and classified
  (``classify.LineClassifier``): frame, source, caret, group margin, chain separator, exception
  line, message continuation. Plain frame and source lines take a hot path (``accept_plain``)
  that decides them as the general path would (a differential test holds them equal).
* a block ends at the first line that cannot belong to it; it is then parsed by
  ``parse.parse_block`` (or, for one plain link, finished by ``parse.parse_tail`` from the frames
  parsed on the way). A header glued to the end of an exception line starts a new block.

JSON log lines carrying an escaped traceback in a string field (Powertools ``exception``,
python-json-logger ``exc_info``) and Lambda invoke-response documents (``errorType``/``stackTrace``,
on one line or pretty-printed over many) are decoded and parsed as blocks of their own. A block
is capped (``max_frames``, ``max_bytes``): beyond the cap only a short tail is kept, and the
result is marked ``truncated``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

from selfheal.domain.extract import runs
from selfheal.domain.extract.block import Block
from selfheal.domain.extract.classify import LineClassifier
from selfheal.domain.extract.documents import (
    PRETTY_MAX_LINES,
    RECENT_LINES,
    json_record,
    lambda_document,
    lines_after_brace,
    pretty_document,
    pretty_document_start,
)
from selfheal.domain.extract.lines import (
    DJANGO_FRAME_RE,
    FRAME_RE,
    HEADER_TEXT,
    IPY_HEADER_RE,
    LAMBDA_ERROR_RE,
    LEGACY_LAMBDA_RE,
    MAX_LINE,
    clean,
    exception_name_like,
    json_escaped_texts,
    looks_like_exception,
    prefix_pattern,
    split_logical,
)
from selfheal.domain.extract.parse import parse_block, parse_tail
from selfheal.domain.traceback import Link, Traceback

__all__ = ["TracebackScanner"]

NOT_PLAIN, PLAIN_ACCEPTED, PLAIN_ENDED = 0, 1, 2  # results of TracebackScanner.accept_plain
# Plain blocks reuse the frames the hot path parsed (tests turn it off to compare with parse_block).
FAST_BUILD = True
class TracebackScanner(LineClassifier):
    """The incremental form of ``extract_tracebacks``: ``feed`` one physical line at a time,
    then ``finish``. ``idle`` is True between tracebacks (callers may skip lines that contain
    neither ``Trace`` nor ``File "`` while idle, after storing the last one in ``prev``)."""

    def __init__(self, max_frames: int = 1000, max_bytes: int = 256 * 1024) -> None:
        self.max_frames = max(1, max_frames)
        self.max_bytes = max(1024, max_bytes)
        self.block: Block | None = None
        self.prev = ""  # previous logical line while idle (Lambda puts the exception line first)
        # The last RECENT_LINES physical lines (line n at n % RECENT_LINES), when the caller keeps
        # them: a pretty-printed invoke response has its errorType before its stackTrace line.
        self.recent: list[str] = [""] * RECENT_LINES
        self.ended = ""  # the line that ended a block on the hot path (accept_plain)

    # -- physical lines -------------------------------------------------------------------------

    def feed(self, raw: str, lineno: int) -> Iterator[Traceback]:
        if self.block is not None and self.block.json is not None:
            yield from self._pretty_line(self.block, self.block.json, raw, lineno)
            return
        if self.block is None and HEADER_TEXT not in raw and "stackTrace" not in raw and 'File "' not in raw:
            if raw.strip() == "Traceback:":  # Django's technical 500 page, copied as text
                yield from self._line("Traceback:", lineno)
            else:
                self.prev = raw
            return
        stripped = raw.strip()
        if stripped[:1] == "{" and stripped[-1:] == "}" and len(stripped) <= 4 * self.max_bytes:
            handled = yield from self._json_record(stripped, lineno)
            if handled:
                return
        if "\\n" in raw and HEADER_TEXT in raw:
            texts = list(json_escaped_texts(raw, self.max_bytes))
            if texts:
                yield from self._embedded(texts, lineno)
                return
        if "stackTrace" in raw and "rrorType" in raw:
            rendered = lambda_document(raw, self.max_bytes)
            if rendered is not None:
                yield from self._embedded(["\n".join(rendered)], lineno)
                return
        if self.block is None and pretty_document_start(raw):
            block = self.block = Block(lineno, None)
            block.json = [raw]
            block.json_before = lines_after_brace(self.recent, lineno)
            return
        # One Lambda event holds a whole traceback joined by "\r": split first, then cap each part.
        body = raw if len(raw) <= MAX_LINE else raw[: self.max_bytes] if "\r" in raw else raw[:MAX_LINE]
        for part in split_logical(body):
            line = clean(part)
            if not self._try_line(line, lineno):
                yield from self._line(line, lineno)

    def _pretty_line(self, block: Block, lines: list[str], raw: str, lineno: int) -> Iterator[Traceback]:
        """One more line of a pretty-printed invoke response; parsed at its closing brace."""
        lines.append(raw)
        block.last_line = lineno
        if raw.lstrip()[:1] == "}":
            rendered = pretty_document(block.json_before, lines)
            if rendered is not None:
                self.block = None
                yield from self._embedded(["\n".join(rendered)], lineno)
                return
        if raw.lstrip()[:1] == "}" or len(lines) > PRETTY_MAX_LINES:
            yield from self._replay(lines, lineno)

    def _replay(self, lines: list[str], lineno: int) -> Iterator[Traceback]:
        """Not a document after all: read its lines as ordinary lines."""
        self.block = None
        for raw in lines:
            for part in split_logical(raw[:MAX_LINE]):
                line = clean(part)
                if not self._try_line(line, lineno):
                    yield from self._line(line, lineno)

    def _embedded(self, texts: list[str], lineno: int) -> Iterator[Traceback]:
        """Tracebacks carried whole inside one record: each is a block of its own."""
        yield from self._finish()
        for text in texts:
            if runs.RUNS and runs.plain_breaks(text):
                yield from runs.embedded_lines(self, text, lineno)  # the same, runs taken at once
            else:
                for sub in text.splitlines():
                    line = clean(sub)
                    if not self._try_line(line, lineno):
                        yield from self._line(line, lineno)
            yield from self._finish()

    def _json_record(self, text: str, lineno: int) -> Generator[Traceback, None, bool]:
        """A JSON log record: a whole traceback in a field, or one line of one (docker json-file)."""
        found = json_record(text, self.max_bytes)
        if found is None:
            return False
        whole, texts = found
        if whole:
            yield from self._embedded(texts, lineno)
            return True
        for part in texts:
            for sub in split_logical(part[:MAX_LINE]):
                line = clean(sub)
                if not self._try_line(line, lineno):
                    yield from self._line(line, lineno)
        return True

    # -- logical lines --------------------------------------------------------------------------

    def _try_line(self, line: str, lineno: int) -> bool:
        """``_line`` without a generator for the common cases (idle, a plain frame or source line
        in an unprefixed block); False when ``_line`` must take the line (nothing changed)."""
        block = self.block
        if block is None:
            self._idle(line, lineno)
            return True
        if block.prefix_re is not None or HEADER_TEXT in line:
            return False
        block.stamped = False
        return self._fast_accept(block, line, lineno)

    def _line(self, line: str, lineno: int) -> Iterator[Traceback]:
        block = self.block
        if block is None:
            self._idle(line, lineno)
            return
        content = line
        block.stamped = False
        if block.prefix_re is not None:
            m = block.prefix_re.match(line)
            if m is not None and m.end():
                content = line[m.end() :]
                block.stamped = not line[: m.end()].isspace()
        if HEADER_TEXT in content:
            glued = self._glued_header(block, content)
            if glued is not None:
                yield from self._finish()
                self._idle(content[glued:], lineno)
                if self.block is not None:
                    self.block.prefix_re = block.prefix_re
                return
        if self._fast_accept(block, content, lineno) or self._accept(block, content):
            block.last_line = lineno
            return
        yield from self._finish()
        self._idle(line, lineno)

    def accept_plain(self, block: Block, raw: str, lineno: int) -> int:
        """The hot path inside a block, for a line that needs no decoding or cleaning (no JSON,
        no ``\\r``, ANSI, no-break spaces, no header): ``PLAIN_ACCEPTED`` when it belongs to the
        block; ``PLAIN_ENDED`` when it ends the block (then ``restart`` finishes it and reads the
        line afresh); ``NOT_PLAIN`` when ``feed`` must take it."""
        if block.json is not None or len(raw) > MAX_LINE or "Trace" in raw:
            return NOT_PLAIN
        line = raw.rstrip("\r\n")
        # isprintable() is False for "\r", ESC, NUL, tabs and no-break spaces: what clean() handles.
        if (not line.isprintable() or "[0m" in line or "[0;" in line or "[1;" in line
                or ("{" in line and line.lstrip()[:1] == "{")):
            return NOT_PLAIN
        content = line
        block.stamped = False
        if block.prefix_re is not None:
            m = block.prefix_re.match(line)
            if m is not None and m.end():
                content = line[m.end() :]
                block.stamped = not line[: m.end()].isspace()
        if self._fast_accept(block, content, lineno) or self._accept(block, content):
            block.last_line = lineno
            return PLAIN_ACCEPTED
        self.ended = line
        return PLAIN_ENDED

    def restart(self, lineno: int) -> Iterator[Traceback]:
        """After ``PLAIN_ENDED``: finish the block and read the line that ended it."""
        yield from self._finish()
        self._idle(self.ended, lineno)

    def _glued_header(self, block: Block, content: str) -> int | None:
        """The index of a ``Traceback`` header glued to the end of this block's exception line
        (two writers sharing a stream, a lost newline), after adding the part before it to the
        block; None when the header starts the line or belongs to the block (IPython, groups)."""
        idx = content.find(HEADER_TEXT)
        head = content[:idx]
        st = head.strip()
        # Glued means no separator: a log stamp before a header ends in a space, `:`, `|` or `>`.
        if not st or head[-1].isspace() or head[-1] in ":|>]-" or st[0] in "|+":
            return None
        in_message = block.state == "msg"
        if not in_message and (block.state != "body" or looks_like_exception(st, strict=True) is None):
            return None
        if not self._accept(block, head):
            return None
        return idx

    def _idle(self, line: str, lineno: int) -> None:
        if line == "Traceback:":
            self.block = Block(lineno, None)
            self._append(self.block, line)
            return
        idx = line.find(HEADER_TEXT)
        if idx >= 0:
            # IPython's header has the type and two or more spaces before it.
            ipm = IPY_HEADER_RE.match(line) if line[idx - 2 : idx] in ("  ", " \t", "\t\t", "\t ") else None
            ipy = ipm is not None and not line.rstrip().endswith(":")
            group = False
            if ipy and ipm is not None:
                prefix = ipm.group("pre")
            else:
                prefix = line[:idx]
                if prefix.endswith("Exception Group "):
                    # CPython draws a top-level group as `  + Exception Group Traceback`: the
                    # log prefix is what comes before that two-space indent and `+` margin.
                    group = True
                    prefix = prefix[: -len("Exception Group ")]
                    for margin in ("  + ", "+ "):
                        if prefix.endswith(margin):
                            prefix = prefix[: -len(margin)]
                            break
            block = Block(lineno, prefix_pattern(prefix))
            block.group = group
            block.ipy = ipy
            block.before = self.prev
            self.block = block
            self._append(block, line[len(prefix) :])
            return
        if 'File "' in line and (FRAME_RE.match(line) or DJANGO_FRAME_RE.match(line)):
            # A frame without a header: SyntaxError output, or a paste that lost its header.
            block = Block(lineno, None)
            block.headerless = True
            block.before = self.prev
            self.block = block
            self._accept(block, line)
            return
        self.prev = line

    @staticmethod
    def _fallback(block: Block) -> tuple[str, str] | None:
        """The exception line printed before the header (Lambda ``[ERROR] T: m``, fuzzers)."""
        prev = block.before[-MAX_LINE:].rstrip("\r\n")
        prev = clean(prev.rsplit("\n", 1)[-1].rsplit("\r", 1)[-1])
        if not prev:
            return None
        if block.prefix_re is not None:
            m = block.prefix_re.match(prev)
            if m is not None:
                prev = prev[m.end() :]
        prev = prev.strip()
        lm = LAMBDA_ERROR_RE.match(prev)
        if lm:
            return lm.group("type"), lm.group("msg")
        em = looks_like_exception(prev, strict=True)
        if em and em.group("rest") and exception_name_like(em.group("type")):
            return em.group("type"), em.group("rest")[1:].strip()
        gm = LEGACY_LAMBDA_RE.match(prev)
        if gm:
            return gm.group("type"), gm.group("msg").strip("'\"")
        return None

    def _finish(self) -> Iterator[Traceback]:
        block = self.block
        if block is None:
            return
        self.block = None
        self.prev = ""
        if block.pending is not None:
            self._classify(block, block.pending)
            block.pending = None
        if block.frames == 0 and not block.has_exc and self._fallback(block) is None:
            return
        if block.headerless and not block.has_exc:
            return
        lines = block.head if block.tail is None else block.head + list(block.tail)  # the block is done
        while lines and not lines[-1].strip():
            lines.pop()
        chain = self._parse(block, lines, None)
        if chain and (chain[-1].type is None or block.ipy):
            # Only a link without its exception line takes the one printed before the header
            # (looked at here, not for every block: most blocks end with theirs).
            fallback = self._fallback(block)
            if fallback is not None:
                chain = self._parse(block, lines, fallback)
        if not chain or all(link.type is None and not link.frames for link in chain):
            return
        raw = "\n".join(lines)
        if len(raw) > self.max_bytes:
            raw = raw[: self.max_bytes]
        truncated = block.truncated or chain[-1].type is None
        yield Traceback(
            chain=chain, truncated=truncated, first_line=block.first_line, last_line=block.last_line, raw=raw
        )

    @staticmethod
    def _parse(block: Block, lines: list[str], fallback: tuple[str, str] | None) -> list[Link]:
        """The block's chain: its hot-path frames finished by the general parser when the block is
        one plain link, else the general parser on the whole block."""
        if FAST_BUILD and block.tail is None and not block.group and not block.ipy:
            end = len(lines) if block.fast_end is None else block.fast_end
            rest = lines[end:]
            if not any(HEADER_TEXT in ln or "above exception" in ln for ln in rest):
                return [parse_tail(list(block.fast), block.expect_src, rest, lines, fallback)]
            # A chain: its first link is finished from the frames parsed on the way.
            return parse_block(lines, fallback, first=(list(block.fast), block.expect_src, end))
        return parse_block(lines, fallback)

    @property
    def idle(self) -> bool:
        return self.block is None

    def finish(self) -> Iterator[Traceback]:
        """Flush the traceback in progress (marked truncated when the input ended inside it)."""
        block = self.block
        if block is not None and block.json is not None:
            yield from self._replay(block.json, block.last_line)
            block = self.block
        if block is not None and block.state == "body" and not block.has_exc:
            block.truncated = True  # the input ended inside the traceback
        yield from self._finish()
