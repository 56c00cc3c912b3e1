"""The commonest end of a traceback, decided at once: the exception line, then a new log record.

After its frames (``runs.take_run``), a plain traceback usually ends with ``Type: message`` and
the next line starts a log record (a timestamp, a level). Line by line, those two lines cost
the scanner's whole classifier and the block's general finish; ``take_tail`` checks that both
lines are of that plain kind and gives the traceback the scanner would give, from the frames
parsed on the way and ``parse.parse_tail`` on the exception line. Anything else (a message on
more lines, a chain, markers, prefixes, ANSI, JSON) is left to the line-by-line path; the
differential tests hold both equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selfheal.domain.extract.block import Block
from selfheal.domain.extract.lines import LOG_START_RE, MAX_LINE, looks_like_exception
from selfheal.domain.extract.parse import parse_tail
from selfheal.domain.traceback import Traceback

if TYPE_CHECKING:
    from selfheal.domain.extract.scanner import TracebackScanner

# Texts that send a line off the scanner's plain path or give it another meaning.
_NOT_PLAIN = ("Trace", 'File "', "[0m", "[0;", "[1;", "[Previous", "...", "above exception", "```",
              "Exception Type: ", "Exception Value: ")


def _plain(raw: str) -> str | None:
    """``raw`` without its terminator when ``accept_plain`` reads it as it is (printable ASCII,
    no marker, no JSON record), else None."""
    if len(raw) > MAX_LINE:
        return None
    line = raw.rstrip("\r\n")
    if not (line and line.isascii() and line.isprintable()) or line[0] in " {":
        return None
    for text in _NOT_PLAIN:
        if text in line:
            return None
    return line


def take_tail(seg: TracebackScanner, block: Block, e_raw: str, n_raw: str, e_lineno: int
              ) -> Traceback | None:
    """The traceback ``seg`` gives when ``e_raw`` (line ``e_lineno``) is ``block``'s exception line
    and ``n_raw`` the log record after it, with ``seg`` left as the scanner leaves it; None (and
    nothing changed) when the two lines are not that plain case. ``block`` must be the scanner's
    block, ``runs.run_eligible``, without a prefix, its frames all parsed on the way."""
    e = _plain(e_raw)
    if e is None or e != e.rstrip() or LOG_START_RE.match(e) is not None:
        return None
    em = looks_like_exception(e, strict=True)
    if em is None:
        return None
    n = _plain(n_raw)
    if n is None or LOG_START_RE.match(n) is None:
        return None
    if not (block.nbytes < seg.max_bytes and block.frames <= seg.max_frames):
        return None  # the exception line would go to the capped tail
    # The exception line joins the block (_unindented), the record line ends it (_finish: a plain
    # block whose rest, after the frames parsed on the way, is its exception line). The block
    # is dropped: only what the traceback is built from is updated.
    head = block.head
    head.append(e)
    block.last_line = e_lineno
    seg.block = None
    link = parse_tail(list(block.fast), block.expect_src, [e], head, None)
    raw = "\n".join(head)
    if len(raw) > seg.max_bytes:
        raw = raw[: seg.max_bytes]
    tb = Traceback(chain=[link], truncated=block.truncated or link.type is None, first_line=block.first_line,
                   last_line=block.last_line, raw=raw)
    seg.prev = n  # what _idle keeps of the line that ended the block
    return tb
