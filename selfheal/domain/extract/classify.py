"""Line classification inside a traceback block (the segmenter's state machine).

``LineClassifier._accept`` decides whether one logical line (log prefix removed) belongs to the
block being read: frame, source, caret, group margin, chained-exception separator, exception line,
message continuation; False ends the block. ``_fast_accept`` decides the two commonest lines (a
frame, a source line) without the general path and parses those frames on the way, so a plain
block needs no second pass (``parse.parse_tail``).
"""

from __future__ import annotations

from collections import deque

from selfheal.domain.extract.block import MAX_BLANKS, MAX_MESSAGE_LINES, TAIL_LINES, Block
from selfheal.domain.extract.lines import (
    DJANGO_FRAME_RE,
    ELLIPSIS_RE,
    FRAME_RE,
    HEADER_TEXT,
    IPY_ARROW_RE,
    IPY_HEADER_RE,
    LOG_START_RE,
    REPEAT_RE,
    is_frame_start,
    join_wrapped_frame,
    looks_like_exception,
    separator_kind,
    wrapped_frame_start,
)
from selfheal.domain.extract.parse import GROUP_HEADER
from selfheal.domain.traceback import Frame


class LineClassifier:
    """The block state machine; ``TracebackScanner`` feeds it lines and handles the rest."""

    max_frames: int
    max_bytes: int

    def _append(self, block: Block, content: str) -> None:
        if block.tail is None and block.nbytes < self.max_bytes and block.frames <= self.max_frames:
            block.head.append(content)
            block.nbytes += len(content) + 1
            return
        if block.tail is None:
            block.tail = deque(maxlen=TAIL_LINES)
            block.truncated = True
        block.tail.append(content)

    def _accept(self, block: Block, content: str) -> bool:
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

    def _classify(self, block: Block, content: str) -> bool:
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

    def _blank(self, block: Block, content: str) -> bool:
        block.blanks += 1
        if block.state == "msg":
            block.state = "after"
        if block.blanks > MAX_BLANKS:
            return False
        self._append(block, content)
        return True

    def _header(self, block: Block, content: str, st: str) -> bool:
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

    def _margin(self, block: Block, content: str, st: str) -> bool:
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

    def _structural(self, block: Block, content: str, st: str) -> bool | None:
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

    def _indented(self, block: Block, content: str) -> bool:
        if block.state == "body":
            block.last_kind = "source"
            self._append(block, content)
            return True
        if block.state == "msg" and block.msg_lines < MAX_MESSAGE_LINES:
            block.msg_lines += 1
            self._append(block, content)
            return True
        return False

    def _unindented(self, block: Block, content: str, st: str) -> bool:
        state = block.state
        ends_record = st.startswith("```") or LOG_START_RE.match(content) is not None
        if state == "msg":
            # Where every line is stamped (journald, kubectl, compose), the next stamped line
            # is the next record, not more of the message.
            if block.msg_lines >= MAX_MESSAGE_LINES or ends_record or block.stamped:
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

    def _fast_accept(self, block: Block, content: str, lineno: int) -> bool:
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
                        # The first line under a frame is its source, unless a caret/loguru
                        # marker (parse.is_marker, inlined: this runs for every frame).
                        if st.strip("^~ -") and st[0] not in "│└┃":
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
                        # Keep the frame parsed, or hand this line and the rest to the parser.
                        file, line, has_in, func = m.group("file", "line", "in", "func")
                        func = func.strip() if func else func
                        if has_in is None or not func or " " in func or not line.isdigit():
                            block.fast_end = len(block.head)
                        else:
                            block.fast.append(Frame(file, int(line), func))
                            block.expect_src = True
                    if (block.tail is None and block.nbytes < self.max_bytes
                            and block.frames <= self.max_frames):
                        block.head.append(content)  # _append's common case, inlined
                        block.nbytes += len(content) + 1
                    else:
                        self._append(block, content)
                    block.last_line = lineno
                    return True
        return False
