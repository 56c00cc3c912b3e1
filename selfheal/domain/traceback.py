"""Typed results of traceback extraction.

Dataclasses with slots rather than pydantic: the extractor builds these on hot paths over
multi-GB logs. ``to_link_dict`` gives the JSON shape documented by the benchmark scorer
(``../shared/bench/score_parse.py``), which is also the shape of ``selfheal parse --json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

LinkKind = Literal["cause", "context"]


@dataclass(slots=True)
class Frame:
    """One stack frame as printed: ``File "file", line N, in function`` plus its source line."""

    file: str
    line: int | None
    function: str | None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "function": self.function}


@dataclass(slots=True)
class Link:
    """One exception of a chain.

    ``link`` says how this exception relates to the previous link of the chain:
    ``"cause"`` (``raise ... from``), ``"context"`` (raised while handling) or None for the first.
    ``exceptions`` holds the sub-tracebacks of an exception group.
    """

    type: str | None
    message: str
    frames: list[Frame] = field(default_factory=list)
    link: LinkKind | None = None
    is_group: bool = False
    exceptions: list[Traceback] = field(default_factory=list)
    more_exceptions: int = 0  # "... and N more exceptions"
    elided_frames: int = 0  # sum of "[Previous line repeated N more times]"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "message": self.message,
            "frames": [f.to_dict() for f in self.frames],
            "link": self.link,
        }
        if self.is_group:
            out["is_group"] = True
            out["exceptions"] = [t.to_dict() for t in self.exceptions]
        return out


@dataclass(slots=True)
class Traceback:
    """A whole printed traceback: its chain of links, ordered as printed.

    The last link is the exception finally raised. ``truncated`` is set when the input ended
    inside the traceback or a cap (frames, bytes) was reached; ``first_line``/``last_line`` are
    1-based line numbers in the input stream; ``raw`` is the (capped) text as found, with log
    prefixes removed.
    """

    chain: list[Link]
    truncated: bool = False
    first_line: int = 0
    last_line: int = 0
    raw: str = ""

    @property
    def final(self) -> Link:
        return self.chain[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"chain": [link.to_dict() for link in self.chain]}
