"""Capture the failing input: pair a traceback with the event logged in the same Lambda invocation.

A Lambda log stream serves one invocation at a time, so the event logged between
``START RequestId: X`` and ``END RequestId: X`` (or on a line carrying request id ``X``) belongs to
the traceback logged there. ``InvocationTracker`` reads the stream alongside the traceback
extractor (``observe`` per line, or per CloudWatch event) and answers ``input_for(position)``.

Where the event is read from (best first, the first of the best kind in an invocation wins):

1. ``helper``: a record with a ``selfheal_event`` field: written by ``selfheal.lambda_helper``
   (event and traceback together), or by Powertools after ``logger.append_keys(selfheal_event=event)``;
2. ``powertools``: Powertools' ``inject_lambda_context(log_event=True)`` record (``message`` is the
   event, ``location`` is ``decorate:N``, ``function_request_id`` the request id);
3. ``runtime`` / ``json_log`` / ``print``: a message ``<label>: <JSON object>`` whose label matches
   ``CaptureConfig.labels`` (default: the AWS blueprint's ``Received event: {...}``, ``event: {...}``,
   ``payload``/``input``/``request``) — on the runtime's ``[INFO]\\t<time>\\t<request id>\\t``
   lines, in Lambda's JSON log format (``requestId``), or printed inside START/END (a blueprint's
   ``json.dumps(event, indent=2)`` spans lines: it is read until the object closes);
4. weakest: any other message that is a bare JSON object or ``<label>: <JSON object>``.

Only objects count (Lambda events are objects): JSON, or a dict printed with Python's ``repr``
(``print(event)``, read with ``ast.literal_eval``: literals only). The event is redacted value by value (the
JSON stays valid), canonicalised and capped; an event over the cap is kept marked ``truncated``
(shown, never replayed). Pure: no I/O.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from selfheal.domain import pyast
from selfheal.domain.redact import Redactor

CaptureKind = Literal["helper", "powertools", "runtime", "json_log", "print"]
HELPER_FIELD = "selfheal_event"  # the record field ``selfheal.lambda_helper`` writes the event to
DEFAULT_LABELS = (r"(?i)^(?:received|incoming|input|raw|lambda|handler)?[ _-]?"
                  r"(?:event|payload|input|request)s?\b[^:{]{0,40}$",)
DEFAULT_MAX_BYTES = 16 * 1024
DEFAULT_KEEP = 3

_START_RE = re.compile(r"^START RequestId: ([0-9A-Za-z-]{8,64})\b")
_END_RE = re.compile(r"^(?:END|REPORT) RequestId: ([0-9A-Za-z-]{8,64})\b")
_RUNTIME_RE = re.compile(r"^\[(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]\t[^\t]{1,40}\t"
                         r"([0-9A-Za-z-]{8,64})\t(.*)$", re.DOTALL)
_LEVEL_RE = re.compile(r"^\[[A-Z]{4,8}\]")
_LABELLED_RE = re.compile(r"^([^{:\n]{1,80}):\s*\{")
_SECRET_KEY_RE = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|authorization|cookie|"
                            r"credentials?|private[_-]?key|session[_-]?key)$")
_RANKS: dict[str, int] = {"helper": 0, "powertools": 1, "labelled": 2, "bare": 3}
_MAX_PENDING_LINES = 400
_MAX_TRACKED = 2048
_MAX_HELD_BYTES = 2 * 1024 * 1024  # events held per stream (a long-lived ingest follows many)


class CapturedInput(BaseModel):
    """One recorded failing input: the invocation's event as redacted, canonical JSON text."""

    event: str
    digest: str  # sha256 of ``event``: distinct inputs have distinct digests
    kind: CaptureKind
    request_id: str = ""
    truncated: bool = False  # over the size cap: shown, never replayed
    seen_at: datetime | None = None

    def value(self) -> Any:
        """The event as a Python object (None when truncated)."""
        return None if self.truncated else json.loads(self.event)


@dataclass(frozen=True)
class CaptureConfig:
    """How inputs are captured: on/off, the label patterns, the size cap."""

    enabled: bool = True
    labels: tuple[str, ...] = DEFAULT_LABELS
    max_bytes: int = DEFAULT_MAX_BYTES


def _redact_value(value: Any, redactor: Redactor, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _redact_value(v, redactor, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, redactor, key) for v in value]
    if isinstance(value, str):
        if key and _SECRET_KEY_RE.search(key) and value and not value.startswith("[REDACTED"):
            return "[REDACTED:secret]"
        return redactor.redact(value)
    return value


def make_input(event: dict[str, Any], kind: CaptureKind, request_id: str = "", *,
               redactor: Redactor | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
               seen_at: datetime | None = None) -> CapturedInput:
    """Redact, canonicalise and cap one event."""
    clean = _redact_value(event, redactor or Redactor())
    text = json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
    truncated = len(text.encode("utf-8")) > max_bytes
    if truncated:
        text = text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
    return CapturedInput(event=text, digest=hashlib.sha256(text.encode("utf-8")).hexdigest(), kind=kind,
                         request_id=request_id, truncated=truncated, seen_at=seen_at)


def redact_event(text: str, redactor: Redactor) -> str | None:
    """``text`` (a stored event) redacted again value by value; None when it is not a JSON object."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return json.dumps(_redact_value(value, redactor), ensure_ascii=False, separators=(",", ":"))


def merge_inputs(kept: Sequence[CapturedInput], new: Iterable[CapturedInput],
                 keep: int = DEFAULT_KEEP) -> list[CapturedInput]:
    """The first ``keep`` distinct inputs of ``kept`` followed by ``new`` (replayable ones first
    among the new: a truncated input never displaces one that can be replayed)."""
    out = list(kept)[:keep]
    seen = {c.digest for c in out}
    for item in sorted(new, key=lambda c: c.truncated):
        if len(out) >= keep:
            break
        if item.digest not in seen:
            seen.add(item.digest)
            out.append(item)
    return out


def _python_literal(text: str, max_bytes: int) -> Any:
    """A dict printed with Python's ``repr`` (``print(event)``), read with ``ast.literal_eval``:
    literals only, nothing is evaluated; None for anything else or anything too large."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")) or len(body) > 4 * max_bytes:
        return None
    try:
        value = pyast.literal_eval(body)
        json.dumps(value)  # only what JSON can hold (no sets, bytes, tuples as keys)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return value


class InvocationTracker:
    """Follows one log stream and remembers, per invocation, the event it logged.

    Positions are line numbers of a file (as the traceback extractor counts them) or indexes of
    CloudWatch events; ``observe`` must be called in position order.
    """

    def __init__(self, config: CaptureConfig | None = None, redactor: Redactor | None = None) -> None:
        self.config = config or CaptureConfig()
        self.redactor = redactor or Redactor()
        self._labels = [re.compile(p) for p in self.config.labels]
        self._current: str | None = None  # request id of the open START
        self._starts: deque[tuple[int, int | None, str]] = deque(maxlen=_MAX_TRACKED)
        self._rid_at: OrderedDict[int, str] = OrderedDict()
        self._events: OrderedDict[str, tuple[int, CapturedInput]] = OrderedDict()
        self._pending: tuple[str, int, list[str], CaptureKind] | None = None  # (rid, rank, lines, kind)
        self.lines_seen = 0  # lines read by ``watch`` so far (the next chunk's base)
        self._held_bytes = 0

    # -- reading ---------------------------------------------------------------------------------

    def watch(self, lines: Iterable[str], base: int = 0) -> Iterator[str]:
        """Yield ``lines`` unchanged, observing each at ``base`` + its 1-based number (the
        extractor's numbering; a followed file passes the lines read before as ``base``)."""
        for number, line in enumerate(lines, base + 1):
            self.observe(number, line)
            self.lines_seen = number
            yield line

    def observe(self, position: int, text: str) -> None:
        """Read one line (or one CloudWatch event's message) at ``position``."""
        if not self.config.enabled:
            return
        if self._pending is not None and self._continue_pending(text):
            return
        first = text.lstrip()
        if first.startswith(("START RequestId:", "END RequestId:", "REPORT RequestId:")):
            self._platform_line(position, first)
            return
        if first.startswith("{"):
            # Cheap test first: only records that name an invocation can matter (JSON logs are big).
            if (self._current is not None or "equestId" in first or "request_id" in first
                    or "platform." in first or HELPER_FIELD in first):
                self._json_line(position, first.strip())
            return
        m = _RUNTIME_RE.match(text.rstrip("\r\n")) if first.startswith("[") else None
        if m is not None:
            rid, message = m.group(1), m.group(2).replace("\r", "\n")
            self._note_rid(position, rid)
            self._message(rid, message, "runtime")
            return
        if self._current is not None and ":" in text and "{" in text:
            self._message(self._current, text.strip(), "print")

    def _platform_line(self, position: int, line: str) -> None:
        start = _START_RE.match(line)
        if start is not None:
            self._open(position, start.group(1))
            return
        end = _END_RE.match(line)
        if end is not None:
            self._close(position, end.group(1))

    def _open(self, position: int, rid: str) -> None:
        self._current = rid
        self._pending = None
        self._starts.append((position, None, rid))

    def _close(self, position: int, rid: str) -> None:
        if self._starts and self._starts[-1][2] == rid and self._starts[-1][1] is None:
            start, _, _ = self._starts.pop()
            self._starts.append((start, position, rid))
        if self._current == rid:
            self._current = None
            self._pending = None

    def _json_line(self, position: int, text: str) -> None:
        if len(text) > 4 * self.config.max_bytes + 4096:
            return
        try:
            obj = json.loads(text)
        except ValueError:
            return
        if not isinstance(obj, dict):
            return
        kind = obj.get("type")
        record = obj.get("record")
        if isinstance(kind, str) and kind.startswith("platform.") and isinstance(record, dict):
            rid = record.get("requestId")
            if isinstance(rid, str):
                if kind == "platform.start":
                    self._open(position, rid)
                elif kind in ("platform.runtimeDone", "platform.report", "platform.end"):
                    self._close(position, rid)
            return
        named = next((v for k in ("function_request_id", "requestId", "aws_request_id", "request_id")
                      if isinstance(v := obj.get(k), str) and v), None)
        rid = named or self._current
        if rid is None:
            return
        self._note_rid(position, rid)
        message = obj.get("message")
        if named is None and not {"message", "msg", "level", "levelname"} & obj.keys():
            # print(json.dumps(event)) inside START/END: the object itself, a weak candidate
            self._keep(rid, _RANKS["bare"], obj, "print")
            return
        if isinstance(obj.get(HELPER_FIELD), dict):
            self._keep(rid, _RANKS["helper"], obj[HELPER_FIELD], "helper")
        elif isinstance(message, dict) and "errorType" not in message:
            location = obj.get("location")
            strong = isinstance(location, str) and location.startswith("decorate:")
            self._keep(rid, _RANKS["powertools" if strong else "bare"], message,
                       "powertools" if "function_request_id" in obj else "json_log")
        elif isinstance(message, str):
            self._message(rid, message, "powertools" if "function_request_id" in obj else "json_log")

    def _message(self, rid: str, message: str, kind: CaptureKind) -> None:
        """A message that may be ``{...}`` or ``<label>: {...}`` (possibly continued on later lines)."""
        text = message.strip()
        if text.startswith("{"):
            label, body = "", text
        else:
            m = _LABELLED_RE.match(text)
            if m is None:
                return
            label, body = m.group(1).strip(), text[m.end() - 1:]
        rank = _RANKS["labelled"] if label and any(p.search(label) for p in self._labels) else _RANKS["bare"]
        if rid in self._events and self._events[rid][0] <= rank:
            return
        try:
            obj = json.loads(body)
        except ValueError:
            if kind == "print" and body.strip() == "{":  # json.dumps(event, indent=2): read on
                self._pending = (rid, rank, [body], kind)
                return
            obj = _python_literal(body, self.config.max_bytes)  # print(event) / logger.info(event)
        if isinstance(obj, dict):
            self._keep(rid, rank, obj, kind)

    def _continue_pending(self, line: str) -> bool:
        assert self._pending is not None
        rid, rank, lines, kind = self._pending
        stripped = line.rstrip("\r\n")
        if stripped.startswith(("START RequestId:", "END RequestId:")) or _LEVEL_RE.match(stripped):
            self._pending = None
            return False
        lines.append(stripped)
        if len(lines) > _MAX_PENDING_LINES or sum(map(len, lines)) > 4 * self.config.max_bytes:
            self._pending = None
            return True
        if stripped.startswith("}"):
            try:
                obj = json.loads("\n".join(lines))
            except ValueError:
                return True
            self._pending = None
            if isinstance(obj, dict):
                self._keep(rid, rank, obj, kind)
        return True

    def _note_rid(self, position: int, rid: str) -> None:
        self._rid_at[position] = rid
        while len(self._rid_at) > _MAX_TRACKED:
            self._rid_at.popitem(last=False)

    def _keep(self, rid: str, rank: int, event: dict[str, Any], kind: CaptureKind) -> None:
        held = self._events.get(rid)
        if held is not None and held[0] <= rank:
            return
        captured = make_input(event, kind, rid, redactor=self.redactor, max_bytes=self.config.max_bytes)
        if held is not None:
            self._held_bytes -= len(held[1].event)
        self._events[rid] = (rank, captured)
        self._events.move_to_end(rid)
        self._held_bytes += len(captured.event)
        over = lambda: self._held_bytes > _MAX_HELD_BYTES and len(self._events) > 1  # noqa: E731
        while len(self._events) > _MAX_TRACKED or over():
            _, (_, dropped) = self._events.popitem(last=False)  # the oldest invocation's event
            self._held_bytes -= len(dropped.event)

    # -- answering -------------------------------------------------------------------------------

    def request_id_at(self, position: int) -> str | None:
        """The invocation a traceback starting at ``position`` belongs to: the START/END range
        around it, else a request id on its line or the line before (the log record's prefix)."""
        starts = [s for s, _, _ in self._starts]
        i = bisect.bisect_right(starts, position) - 1
        if i >= 0:
            start, end, rid = self._starts[i]
            if end is None or start <= position <= end:
                return rid
        return self._rid_at.get(position) or self._rid_at.get(position - 1)

    def input_for(self, position: int) -> CapturedInput | None:
        """The event of the invocation the traceback at ``position`` belongs to, if one was logged."""
        if not self.config.enabled:
            return None
        rid = self.request_id_at(position)
        held = self._events.get(rid) if rid else None
        return held[1] if held else None
