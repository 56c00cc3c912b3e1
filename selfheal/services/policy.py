"""When an error should get a fix: minimum occurrences, ignore rules, the hourly cap, regression.

Pure decisions over records; the ingest, dispatch and start-fix services apply them. The same
``enqueue_reason`` decides for a DynamoDB stream record (old and new image) on AWS and for an
``observe`` result locally, so both modes start the same fixes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Literal

from selfheal.domain.records import MESSAGE_MAX_CHARS, ErrorRecord, FrameRef, Status
from selfheal.errors import ConfigurationError

if TYPE_CHECKING:
    from selfheal.settings import Settings

EnqueueReason = Literal["new", "redrive", "regressed"]
# The status a fix request of each reason expects to find; anything else means it is stale.
EXPECTED_STATUS: dict[str, Status] = {"new": Status.NEW, "redrive": Status.QUEUED,
                                      "regressed": Status.REGRESSED}


@dataclass(frozen=True)
class Policy:
    """The configurable rules (defaults: fix from the first occurrence, ignore nothing)."""

    min_occurrences: int = 1
    ignore_types: tuple[str, ...] = ()
    ignore_paths: tuple[str, ...] = ()  # fnmatch globs over in-app frame files
    ignore_messages: tuple[str, ...] = ()  # regular expressions searched in the message
    max_fixes_per_hour: int = 20
    _message_res: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.min_occurrences < 1:
            raise ConfigurationError("min_occurrences must be at least 1")
        if self.max_fixes_per_hour < 0:
            raise ConfigurationError("max_fixes_per_hour must not be negative")
        try:
            compiled = tuple(re.compile(p) for p in self.ignore_messages)
        except re.error as exc:
            raise ConfigurationError(f"invalid ignore_messages pattern: {exc}") from exc
        object.__setattr__(self, "_message_res", compiled)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(min_occurrences=settings.min_occurrences, ignore_types=tuple(settings.ignore_types),
                   ignore_paths=tuple(settings.ignore_paths), ignore_messages=tuple(settings.ignore_messages),
                   max_fixes_per_hour=settings.max_fixes_per_hour)

    def ignore_reason(self, exc_type: str, message: str, frames: Sequence[FrameRef]) -> str | None:
        """Which ignore rule matches this error, or None."""
        short_type = exc_type.rsplit(".", 1)[-1]
        for rule in self.ignore_types:
            if rule in (exc_type, short_type):
                return f"exception type {rule}"
        for glob in self.ignore_paths:
            for frame in frames:
                if fnmatchcase(frame.file, glob):
                    return f"path {glob}"
        text = message[:MESSAGE_MAX_CHARS]
        for pattern in self._message_res:
            if pattern.search(text):
                return f"message /{pattern.pattern}/"
        return None

    def record_ignore_reason(self, rec: ErrorRecord) -> str | None:
        return self.ignore_reason(rec.exc_type, rec.message, rec.frames)

    def is_regression(self, previous_status: Status | None) -> bool:
        """Seen again after it was resolved (its fix merged, or closed by hand)."""
        return previous_status == Status.RESOLVED

    def enqueue_reason(self, old: ErrorRecord | None, new: ErrorRecord | None) -> EnqueueReason | None:
        """Whether a change of a record (``old`` -> ``new``; None = absent) should start a fix.

        New error reaching the minimum occurrences (on insert, or the count update that crosses
        it) -> ``new``; a change to QUEUED -> ``redrive``; a change to REGRESSED -> ``regressed``.
        A mere count update, a removal or an ignored error -> None.
        """
        if new is None or new.status == Status.IGNORED or self.record_ignore_reason(new):
            return None
        status_changed = old is None or old.status != new.status
        if new.status == Status.QUEUED and status_changed:
            return "redrive"
        if new.status == Status.REGRESSED and status_changed:
            return "regressed"
        if new.status != Status.NEW or new.count < self.min_occurrences:
            return None
        if old is None or old.status != Status.NEW or old.count < self.min_occurrences:
            return "new"
        return None

    def cap_reached(self, started_last_hour: int) -> bool:
        return started_last_hour >= self.max_fixes_per_hour
