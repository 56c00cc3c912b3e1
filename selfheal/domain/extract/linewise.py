"""``extract_tracebacks``: the scanner fed one line at a time from any iterable of lines.

``TracebackScanner`` (``scanner.py``) holds the state; this loop adds the hot path between and
inside tracebacks (two substring tests reject an ordinary line, ``accept_plain`` takes a plain
frame or source line). ``stream.extract_from_stream`` gives the same results from a byte stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from selfheal.domain.extract.documents import RECENT_LINES
from selfheal.domain.extract.scanner import PLAIN_ENDED, TracebackScanner
from selfheal.domain.traceback import Traceback

__all__ = ["extract_from_text", "extract_tracebacks"]


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
