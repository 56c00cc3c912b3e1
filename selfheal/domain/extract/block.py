"""The traceback being read: its (capped) lines and the segmenter's state about it."""

from __future__ import annotations

from collections import deque
from re import Pattern

from selfheal.domain.traceback import Frame

TAIL_LINES = 80  # lines kept after a block reaches its cap (the exception line is at the end)
MAX_MESSAGE_LINES = 20
MAX_BLANKS = 4


class Block:
    """The lines of the traceback being read, capped, with the segmenter's state."""

    __slots__ = (
        "head", "tail", "nbytes", "frames", "truncated", "first_line", "last_line", "prefix_re",
        "before", "group", "ipy", "state", "last_kind", "msg_lines", "blanks", "has_exc", "headerless",
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
        self.before = ""  # the line before the header: Lambda prints the exception line there
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
