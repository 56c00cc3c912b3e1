"""Find Python tracebacks in a stream of log lines.

``extract_tracebacks`` reads any iterable of lines once, holds at most one (capped) traceback in
memory and yields ``Traceback`` objects as soon as each one ends. It is a small state machine:

* idle: a cheap substring test (``Trace``, ``File "``) rejects ordinary log lines; only
  candidate lines get normalised (``\\r`` splitting, ANSI, no-break spaces) and matched.
* in a block: lines are stripped of the log prefix seen on the header line (timestamps, levels,
  ``svc_1 |``, ``INTERNALERROR>``; numbers may vary between lines) and classified: frame, source,
  caret, group margin, chain separator, exception line, message continuation.
* a block ends at the first line that cannot belong to it; it is then parsed by
  ``parse.parse_block``.

JSON log lines carrying an escaped traceback in a string field (Powertools ``exception``,
python-json-logger ``exc_info``) and Lambda invoke-response documents (``errorType``/``stackTrace``)
are decoded and parsed as blocks of their own. A block is capped (``max_frames``, ``max_bytes``):
beyond the cap only a short tail is kept, and the result is marked ``truncated``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from re import Pattern

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
    ELLIPSIS_RE,
    FRAME_RE,
    HEADER_TEXT,
    IPY_ARROW_RE,
    IPY_HEADER_RE,
    LAMBDA_ERROR_RE,
    LEGACY_LAMBDA_RE,
    LOG_START_RE,
    MAX_LINE,
    REPEAT_RE,
    clean,
    exception_name_like,
    is_frame_start,
    join_wrapped_frame,
    json_escaped_texts,
    looks_like_exception,
    prefix_pattern,
    separator_kind,
    split_logical,
    wrapped_frame_start,
)
from selfheal.domain.extract.parse import GROUP_HEADER, is_marker, parse_block, parse_tail
from selfheal.domain.traceback import Frame, Link, Traceback

__all__ = ["TracebackScanner", "extract_from_text", "extract_tracebacks"]

NOT_PLAIN, PLAIN_ACCEPTED, PLAIN_ENDED = 0, 1, 2  # results of TracebackScanner.accept_plain
# Plain blocks reuse the frames the hot path parsed (tests turn it off to compare with parse_block).
FAST_BUILD = True
_TAIL_LINES = 80  # lines kept after a block reaches its cap (the exception line is at the end)
_MAX_MESSAGE_LINES = 20
_MAX_BLANKS = 4


class _Block:
    """The lines of the traceback being read, capped, with the segmenter's state."""

    __slots__ = (
        "head", "tail", "nbytes", "frames", "truncated", "first_line", "last_line", "prefix_re",
        "fallback", "group", "ipy", "state", "last_kind", "msg_lines", "blanks", "has_exc", "headerless",
        "stamped", "pending", "json", "json_before", "fast", "fast_end", "expect_src",
    )

    def __init__(self, first_line: int, prefix_re: Pattern[str] | None) -> None:
        self.head: list[str] = []
        self.tail: deque[str] | None = None
        self.nbytes = 0
        self.frames = 0
        self.truncated = False
        self.first_line = first_line
        self.last_line = first_line
        self.prefix_re = prefix_re
        self.fallback: tuple[str, str] | None = None
        self.group = False
        self.ipy = False
        self.state = "body"  # body | msg | after | sep
        self.last_kind = "header"  # header | frame | source | other
        self.msg_lines = 0
        self.blanks = 0
        self.has_exc = False
        self.headerless = False
        self.stamped = False  # the current line carried the log stamp seen on the header
        self.pending: str | None = None  # a frame line that may continue on the next line
        self.json: list[str] | None = None  # lines of a pretty-printed invoke response, if it is one
        self.json_before: list[str] = []
        # Frames parsed on the hot path (accept_plain), up to line ``fast_end`` of ``head``, after
        # which the general parser takes over (None: every line so far came that way).
        self.fast: list[Frame] = []
        self.fast_end: int | None = None
        self.expect_src = False


class TracebackScanner:
    """The incremental form of ``extract_tracebacks``: ``feed`` one physical line at a time,
    then ``finish``. ``idle`` is True between tracebacks (callers may skip lines that contain
    neither ``Trace`` nor ``File "`` while idle, after storing the last one in ``prev``)."""

    def __init__(self, max_frames: int = 1000, max_bytes: int = 256 * 1024) -> None:
        self.max_frames = max(1, max_frames)
        self.max_bytes = max(1024, max_bytes)
        self.block: _Block | None = None
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
            block = self.block = _Block(lineno, None)
            block.json = [raw]
            block.json_before = lines_after_brace(self.recent, lineno)
            return
        # One Lambda event holds a whole traceback joined by "\r": split first, then cap each part.
        body = raw if len(raw) <= MAX_LINE else raw[: self.max_bytes] if "\r" in raw else raw[:MAX_LINE]
        for part in split_logical(body):
            yield from self._line(clean(part), lineno)

    def _pretty_line(self, block: _Block, lines: list[str], raw: str, lineno: int) -> Iterator[Traceback]:
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
                yield from self._line(clean(part), lineno)

    def _embedded(self, texts: list[str], lineno: int) -> Iterator[Traceback]:
        """Tracebacks carried whole inside one record: each is a block of its own."""
        yield from self._finish()
        for text in texts:
            for sub in text.splitlines():
                yield from self._line(clean(sub), lineno)
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
                yield from self._line(clean(sub), lineno)
        return True

    # -- logical lines --------------------------------------------------------------------------

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

    def accept_plain(self, block: _Block, raw: str, lineno: int) -> int:
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

    def _fast_accept(self, block: _Block, content: str, lineno: int) -> bool:
        """The two commonest lines of a plain traceback (a frame, a source line), decided as
        ``_classify`` would decide them; False when ``_accept`` must decide."""
        if block.state == "body" and block.pending is None and not block.group and not block.ipy:
            st = content.strip()
            if st and 'File "' not in content:
                if (content[0] in " \t" and "[Previous" not in st and "..." not in st and "…" not in st
                        and "Trace" not in st and not st.startswith(("The above", "During"))):
                    block.blanks = 0
                    block.last_kind = "source"
                    if block.expect_src and block.fast_end is None:
                        if not is_marker(st):  # the first line under a frame is its source
                            block.fast[-1].source = st
                        block.expect_src = False
                    if (block.tail is None and block.nbytes < self.max_bytes
                            and block.frames <= self.max_frames):
                        block.head.append(content)  # _append's common case, inlined
                        block.nbytes += len(content) + 1
                    else:
                        self._append(block, content)
                    block.last_line = lineno
                    return True
            elif st and not st.endswith((",", ", in", ", line")) and st.count('"') >= 2:
                m = FRAME_RE.match(content)
                if m is not None:
                    block.blanks = 0
                    block.frames += 1
                    block.last_kind = "frame"
                    if block.fast_end is None:
                        self._fast_frame(block, m)
                    if (block.tail is None and block.nbytes < self.max_bytes
                            and block.frames <= self.max_frames):
                        block.head.append(content)  # _append's common case, inlined
                        block.nbytes += len(content) + 1
                    else:
                        self._append(block, content)
                    block.last_line = lineno
                    return True
        return False

    @staticmethod
    def _fast_frame(block: _Block, m: re.Match[str]) -> None:
        """Keep the frame parsed, or hand this line and the rest to the general parser."""
        func, line = m.group("func"), m.group("line")
        if m.group("in") is None or not func or " " in func.strip() or not line.isdigit():
            block.fast_end = len(block.head)
            return
        block.fast.append(Frame(m.group("file"), int(line), func.strip()))
        block.expect_src = True

    def restart(self, lineno: int) -> Iterator[Traceback]:
        """After ``PLAIN_ENDED``: finish the block and read the line that ended it."""
        yield from self._finish()
        self._idle(self.ended, lineno)

    def _glued_header(self, block: _Block, content: str) -> int | None:
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
            self.block = _Block(lineno, None)
            self._append(self.block, line)
            return
        idx = line.find(HEADER_TEXT)
        if idx >= 0:
            ipm = IPY_HEADER_RE.match(line)
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
            block = _Block(lineno, prefix_pattern(prefix))
            block.group = group
            block.ipy = ipy
            block.fallback = self._fallback(block)
            self.block = block
            self._append(block, line[len(prefix) :])
            return
        if 'File "' in line and (FRAME_RE.match(line) or DJANGO_FRAME_RE.match(line)):
            # A frame without a header: SyntaxError output, or a paste that lost its header.
            block = _Block(lineno, None)
            block.headerless = True
            block.fallback = self._fallback(block)
            self.block = block
            self._accept(block, line)
            return
        self.prev = line

    def _fallback(self, block: _Block) -> tuple[str, str] | None:
        """The exception line printed before the header (Lambda ``[ERROR] T: m``, fuzzers)."""
        prev = self.prev[-MAX_LINE:].rstrip("\r\n")
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

    def _append(self, block: _Block, content: str) -> None:
        if block.tail is None and block.nbytes < self.max_bytes and block.frames <= self.max_frames:
            block.head.append(content)
            block.nbytes += len(content) + 1
            return
        if block.tail is None:
            block.tail = deque(maxlen=_TAIL_LINES)
            block.truncated = True
        block.tail.append(content)

    def _accept(self, block: _Block, content: str) -> bool:
        """Add ``content`` to the block if it belongs there; False ends the block."""
        if block.pending is not None:
            pending, block.pending = block.pending, None
            joined = join_wrapped_frame(pending, content)
            if joined is not None:
                return self._classify(block, joined)
            self._classify(block, pending)
        st = content.strip()
        if (st.startswith('File "') and block.state in ("body", "sep")
                and (st[-1] in ",n" or st.count('"') < 2) and wrapped_frame_start(content)):
            block.pending = content  # decided by the next line: its continuation or not
            return True
        return self._classify(block, content)

    def _classify(self, block: _Block, content: str) -> bool:
        if block.fast_end is None:
            block.fast_end = len(block.head)  # from here on the general parser reads the lines
        st = content.strip()
        if not st:
            return self._blank(block, content)
        block.blanks = 0
        if HEADER_TEXT in content:
            return self._header(block, content, st)
        if block.group and st[0] in "|+":
            return self._margin(block, content, st)
        if separator_kind(st) is not None and (st.startswith("The above") or st.startswith("During")):
            block.state = "sep"
            self._append(block, content)
            return True
        structural = self._structural(block, content, st)
        if structural is not None:
            return structural
        if content[0] in " \t":
            return self._indented(block, content)
        return self._unindented(block, content, st)

    def _blank(self, block: _Block, content: str) -> bool:
        block.blanks += 1
        if block.state == "msg":
            block.state = "after"
        if block.blanks > _MAX_BLANKS:
            return False
        self._append(block, content)
        return True

    def _header(self, block: _Block, content: str, st: str) -> bool:
        # A nested group's header sits behind a `|` margin; a `+` one starts a new traceback.
        if block.state != "sep" and not (block.group and st[0] == "|"):
            return False
        if GROUP_HEADER in content:
            block.group = True
        ipm = IPY_HEADER_RE.match(content)
        if ipm is not None and not st.endswith(":"):
            block.ipy = True
        block.state = "body"
        block.last_kind = "header"
        self._append(block, content)
        return True

    def _margin(self, block: _Block, content: str, st: str) -> bool:
        """A line of an exception group, drawn behind `|`/`+` margins."""
        self._append(block, content)
        block.state = "body"
        block.last_kind = "group"
        inner = st[1:].strip()
        if 'File "' in inner:
            block.frames += 1
        elif not block.has_exc and looks_like_exception(inner, strict=False) is not None:
            block.has_exc = True
        return True

    def _structural(self, block: _Block, content: str, st: str) -> bool | None:
        """Frames and markers; None when the line is neither."""
        state = block.state
        if state == "sep" and st[0] == "-" and st.strip("-") == "":
            self._append(block, content)  # IPython's rule line before the next header
            return True
        # Substring tests first: most lines are source lines, and a regex call costs more.
        file_line = 'File "' in content
        is_frame = (file_line and (FRAME_RE.match(content) or DJANGO_FRAME_RE.match(content))) or (
            block.ipy and content[0] not in " \t" and is_frame_start(content)
        )
        if is_frame:
            if state in ("msg", "after"):
                return False  # a new traceback without a header
            block.state = "body"
            block.frames += 1
            block.last_kind = "frame"
            self._append(block, content)
            return True
        if ("[Previous" in content and REPEAT_RE.match(content)) or (
                ("..." in content or "…" in content) and ELLIPSIS_RE.match(content)):
            self._append(block, content)
            return True
        if block.ipy and state == "body" and IPY_ARROW_RE.match(content):
            self._append(block, content)
            block.last_kind = "source"
            return True
        return None

    def _indented(self, block: _Block, content: str) -> bool:
        if block.state == "body":
            block.last_kind = "source"
            self._append(block, content)
            return True
        if block.state == "msg" and block.msg_lines < _MAX_MESSAGE_LINES:
            block.msg_lines += 1
            self._append(block, content)
            return True
        return False

    def _unindented(self, block: _Block, content: str, st: str) -> bool:
        state = block.state
        ends_record = st.startswith("```") or LOG_START_RE.match(content) is not None
        if state == "msg":
            # Where every line is stamped (journald, kubectl, compose), the next stamped line
            # is the next record, not more of the message.
            if block.msg_lines >= _MAX_MESSAGE_LINES or ends_record or block.stamped:
                return False
            block.msg_lines += 1  # a multi-line exception message
            self._append(block, content)
            return True
        if state == "after" or ends_record:
            return False
        if state == "body" and block.last_kind == "frame" and looks_like_exception(st, strict=True) is None:
            block.last_kind = "source"  # a source line whose indentation was lost
            self._append(block, content)
            return True
        if state == "body" and block.last_kind == "source" and looks_like_exception(st, strict=False) is None:
            block.last_kind = "wrapped"  # the rest of a long source line wrapped by a terminal (once)
            self._append(block, content)
            return True
        if st.startswith("Exception Type: ") or st.startswith("Exception Value: "):
            self._append(block, content)  # Django's debug page
            block.has_exc = True
            return True
        if looks_like_exception(content, strict=False) is not None:
            block.state = "msg"
            block.has_exc = True
            block.msg_lines = 0
            block.last_kind = "other"
            self._append(block, content)
            return True
        return False

    def _finish(self) -> Iterator[Traceback]:
        block = self.block
        if block is None:
            return
        self.block = None
        self.prev = ""
        if block.pending is not None:
            self._classify(block, block.pending)
            block.pending = None
        if block.frames == 0 and not block.has_exc and block.fallback is None:
            return
        if block.headerless and not block.has_exc:
            return
        lines = block.head + list(block.tail or ())
        while lines and not lines[-1].strip():
            lines.pop()
        chain = self._parse(block, lines)
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
    def _parse(block: _Block, lines: list[str]) -> list[Link]:
        """The block's chain: its hot-path frames finished by the general parser when the block is
        one plain link, else the general parser on the whole block."""
        if FAST_BUILD and block.tail is None and not block.group and not block.ipy:
            rest = lines[len(lines) if block.fast_end is None else block.fast_end :]
            if not any(HEADER_TEXT in ln or "above exception" in ln for ln in rest):
                return [parse_tail(block.fast, block.expect_src, rest, lines, block.fallback)]
        return parse_block(lines, block.fallback)

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


def extract_tracebacks(
    lines: Iterable[str], *, max_frames: int = 1000, max_bytes: int = 256 * 1024
) -> Iterator[Traceback]:
    """Yield every Python traceback found in ``lines`` (with or without line terminators)."""
    seg = TracebackScanner(max_frames, max_bytes)
    recent = seg.recent
    mask = RECENT_LINES - 1
    for lineno, raw in enumerate(lines, 1):
        # The hot path: two substring scans reject an ordinary line. "Trace" covers both the
        # `Traceback` header and Lambda's `stackTrace` documents; `File "` a header-less frame.
        block = seg.block
        if block is None:
            if "Trace" not in raw and 'File "' not in raw:
                recent[lineno & mask] = raw
                continue
            seg.prev = recent[(lineno - 1) & mask]
        else:
            # Inside a traceback, most lines are plain frames and source lines: no generators.
            plain = seg.accept_plain(block, raw, lineno)
            if plain:
                if plain == PLAIN_ENDED:
                    yield from seg.restart(lineno)
                recent[lineno & mask] = raw
                continue
        yield from seg.feed(raw, lineno)
        recent[lineno & mask] = raw
    yield from seg.finish()


def extract_from_text(text: str) -> list[Traceback]:
    """All tracebacks in ``text`` (a convenience over ``extract_tracebacks``)."""
    return list(extract_tracebacks(text.splitlines()))
