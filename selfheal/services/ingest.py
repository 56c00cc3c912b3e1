"""Ingest: log text -> tracebacks -> fingerprints -> one store write per distinct error.

Duplicates of one error within a batch are counted in memory and merged with ONE
``ErrorStore.observe`` per distinct fingerprint (the cost model depends on it). After each
write the policy decides: a new error matching an ignore rule becomes IGNORED; an error seen
again after RESOLVED becomes REGRESSED (its PR kept as ``previous_pr_url``); and the report
lists the errors whose fix should start (``to_fix``), decided exactly as the AWS dispatch
function decides from the table's stream.

Failing inputs: with a ``CaptureConfig`` and an ``InputStore``, the log is also read by an
``InvocationTracker`` (``selfheal.domain.capture``); each traceback's occurrence carries the event
logged in its invocation, and the first ``keep`` distinct inputs of an error are stored (one
extra write per error per batch, none once the error has ``keep`` inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from selfheal.domain.capture import DEFAULT_KEEP
from selfheal.domain.records import MESSAGE_MAX_CHARS, ErrorRecord, Observation, Status, cap_text, utcnow
from selfheal.errors import ConcurrentUpdate, InvalidTransition
from selfheal.ports import DeliveryLedger, ErrorStore, InputStore, ObserveResult
from selfheal.services.policy import Policy

_MAX_SOURCES = 32  # log streams whose invocation state is kept (each holds at most 2 MB of events)

if TYPE_CHECKING:
    from selfheal.domain.capture import CaptureConfig, CapturedInput, InvocationTracker
    from selfheal.domain.cloudwatch import LogEvent, SubscriptionBatch
    from selfheal.domain.fingerprint import FingerprintConfig
    from selfheal.domain.traceback import Traceback

@dataclass
class IngestReport:
    """What one ingest call found and did."""

    tracebacks: int = 0  # tracebacks found
    distinct: int = 0  # distinct fingerprints among them (= store writes for counting)
    duplicates: int = 0  # tracebacks that were not the first occurrence of a new error
    writes: int = 0  # store writes (observe + status changes)
    new: list[str] = field(default_factory=list)
    regressed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    to_fix: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # to_fix fingerprint -> new|redrive|regressed
    oversized: int = 0  # events cut to CloudWatch's event size limit
    redelivered: int = 0  # deliveries already counted (a retried or duplicated batch): skipped
    captured: int = 0  # tracebacks paired with the event of their invocation
    input_writes: int = 0  # store writes of captured inputs
    problems: list[str] = field(default_factory=list)  # one readable line per skipped input

    def merge(self, other: IngestReport) -> None:
        """Add ``other`` (a later batch) into this report."""
        for name in ("tracebacks", "distinct", "duplicates", "writes", "oversized", "redelivered", "captured",
                     "input_writes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("new", "regressed", "ignored", "to_fix", "problems"):
            getattr(self, name).extend(getattr(other, name))
        self.reasons.update(other.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class IngestService:
    """Turns log input into error records (see module docstring)."""

    def __init__(self, store: ErrorStore, policy: Policy, fingerprint_config: FingerprintConfig,
                 redact_patterns: Iterable[str] = (), ledger: DeliveryLedger | None = None, *,
                 capture: CaptureConfig | None = None, inputs: InputStore | None = None,
                 keep_inputs: int = DEFAULT_KEEP) -> None:
        from selfheal.domain.redact import Redactor

        self.store = store
        # Samples and messages are stored, shown in the CLI and copied into PRs: redact them once here.
        self.redactor = Redactor(tuple(redact_patterns))
        self.policy = policy
        self.fingerprint_config = fingerprint_config
        # Occurrence identity on AWS: a delivery (log stream + event ids) is counted once.
        self.ledger = ledger
        self.capture = capture if inputs is not None and capture is not None and capture.enabled else None
        self.inputs = inputs
        self.keep_inputs = keep_inputs
        self._inputs_full: set[str] = set()  # errors known to hold ``keep_inputs`` inputs already
        self._trackers: dict[str, InvocationTracker] = {}  # per log source, across calls

    def _source_tracker(self, source: str) -> InvocationTracker | None:
        """The invocation tracker of ``source`` (a file, a log stream), kept across calls."""
        from selfheal.domain.capture import InvocationTracker

        if self.capture is None:
            return None
        tracker = self._trackers.pop(source, None) or InvocationTracker(self.capture, self.redactor)
        self._trackers[source] = tracker  # most recently used last
        while len(self._trackers) > _MAX_SOURCES:
            self._trackers.pop(next(iter(self._trackers)))
        return tracker

    def ingest_lines(self, lines: Iterable[str], source: str,
                     seen_at: datetime | None = None) -> IngestReport:
        """Ingest log lines (a file, stdin, a chunk of a followed file) from ``source``."""
        from selfheal.domain.extract import extract_tracebacks

        when = seen_at or utcnow()
        tracker = self._source_tracker(source)
        if tracker is None:
            return self.ingest_tracebacks(((tb, when) for tb in extract_tracebacks(lines)), source)
        # One tracker per source across calls: a followed file's chunk may start inside an
        # invocation whose START and event lines came in the previous chunk.
        base = tracker.lines_seen
        found = ((tb, when) for tb in extract_tracebacks(tracker.watch(lines, base)))
        return self.ingest_tracebacks(found, source,
                                      capture=lambda tb: tracker.input_for(base + tb.first_line))

    def ingest_batch(self, batch: SubscriptionBatch) -> IngestReport:
        """Ingest one decoded CloudWatch Logs subscription batch. An oversized event (cut by the
        decoder to CloudWatch's event limit) is still processed, and reported in ``problems``.
        With a ledger, a delivery already counted is skipped (``redelivered``); one whose earlier
        try failed part-way writes only the fingerprints that try did not."""
        from selfheal.domain.cloudwatch import MAX_EVENT_CHARS, extract_from_batch
        from selfheal.domain.occurrence import delivery_key

        report = IngestReport()
        key = None
        done: set[str] = set()
        if self.ledger is not None and batch.events:
            key = delivery_key(batch.log_group, batch.log_stream, (ev.id for ev in batch.events))
            claimed = self.ledger.claim(key)
            if claimed is None:
                report.redelivered += 1
                return report
            done = claimed
        for event in batch.events:
            if event.truncated:
                report.oversized += 1
                report.problems.append(
                    f"oversized log event {event.id} in {batch.log_group} {batch.log_stream}: cut to "
                    f"{MAX_EVENT_CHARS} characters; its traceback is kept as truncated")
        source = f"{batch.log_group} {batch.log_stream}".strip()
        pairs = extract_from_batch(batch)
        found = ((tb, datetime.fromtimestamp(ev.timestamp / 1000, UTC)) for tb, ev in pairs)
        capture = self._batch_capture(source, batch, pairs)
        applied: set[str] = set()
        try:
            report.merge(self.ingest_tracebacks(found, source, skip=done, applied=applied, capture=capture))
        except Exception:
            if key is not None and self.ledger is not None:
                self.ledger.fail(key, done | applied)  # the retry writes only the rest
            raise
        return report

    def _batch_capture(self, source: str, batch: SubscriptionBatch, pairs: list[tuple[Traceback, LogEvent]]
                       ) -> Callable[[Traceback], CapturedInput | None] | None:
        """Observe the batch's events; the capture function of its tracebacks. One batch is one
        log stream: positions are the events' indexes after those of the stream's earlier batches
        (a warm function pairs an event delivered in one batch with a traceback in the next)."""
        tracker = self._source_tracker(source)
        if tracker is None:
            return None
        index = {}
        base = tracker.lines_seen
        for position, event in enumerate(batch.events, base + 1):
            tracker.observe(position, event.message)
            index[id(event)] = position
        tracker.lines_seen = base + len(batch.events)
        where = {id(tb): index[id(ev)] for tb, ev in pairs}
        return lambda tb: tracker.input_for(where[id(tb)])

    def ingest_tracebacks(self, found: Iterable[tuple[Traceback, datetime]], source: str, *,
                          skip: set[str] | frozenset[str] = frozenset(),
                          applied: set[str] | None = None,
                          capture: Callable[[Traceback], CapturedInput | None] | None = None) -> IngestReport:
        """Group tracebacks by fingerprint in memory, then write once per distinct fingerprint
        (except those in ``skip``, written by an earlier try); ``applied`` collects the written.
        ``capture`` gives a traceback's failing input (the event of its invocation), if known."""
        from selfheal.domain.fingerprint import fingerprint
        from selfheal.domain.redact import redact_frames

        report = IngestReport()
        pending: dict[str, Observation] = {}
        captured: dict[str, dict[str, CapturedInput]] = {}
        for tb, when in found:
            report.tracebacks += 1
            fp = fingerprint(tb, self.fingerprint_config)
            item = capture(tb) if capture is not None else None
            if item is not None:
                report.captured += 1
                held = captured.setdefault(fp.id, {})
                if len(held) < self.keep_inputs:
                    held.setdefault(item.digest, item.model_copy(update={"seen_at": when}))
            seen = pending.get(fp.id)
            if seen is not None:
                seen.count += 1
                seen.seen_at = max(seen.seen_at, when)
                continue
            pending[fp.id] = Observation(
                fingerprint=fp.id, fingerprint_version=fp.version, full_hash=fp.full_hash,
                exc_type=fp.exc_type, message=self.redactor.redact(fp.message[:MESSAGE_MAX_CHARS]),
                frames=redact_frames(fp.in_app_frames, self.redactor),  # source lines are stored too
                sample_trace=self.redactor.redact(cap_text(tb.raw)), source=source, seen_at=when)
        report.distinct = len(pending)
        for obs in pending.values():
            if obs.fingerprint in skip:
                continue
            self._apply(obs, report)
            if applied is not None:
                applied.add(obs.fingerprint)
            self._keep_inputs(obs.fingerprint, list(captured.get(obs.fingerprint, {}).values()), report)
        report.duplicates = report.tracebacks - len(report.new)
        return report

    def _keep_inputs(self, fingerprint: str, items: list[CapturedInput], report: IngestReport) -> None:
        if not items or self.inputs is None or fingerprint in self._inputs_full:
            return
        report.input_writes += 1
        if self.inputs.add_inputs(fingerprint, items, self.keep_inputs) >= self.keep_inputs:
            self._inputs_full.add(fingerprint)

    def _apply(self, obs: Observation, report: IngestReport) -> None:
        result = self.store.observe(obs)
        report.writes += 1
        rec = result.record
        old = None if result.created else rec.model_copy(
            update={"count": rec.count - obs.count, "status": result.previous_status or rec.status})
        if result.created:
            report.new.append(rec.fingerprint)
            why = self.policy.record_ignore_reason(rec)
            if why:
                rec = self._move(result, Status.IGNORED, f"ignored by policy: {why}", report) or rec
                if rec.status == Status.IGNORED:
                    report.ignored.append(rec.fingerprint)
        elif self.policy.is_regression(result.previous_status):
            moved = self._move(result, Status.REGRESSED, "seen again after it was resolved", report,
                               fields={"previous_pr_url": rec.pr_url or rec.previous_pr_url})
            if moved is not None:
                rec = moved
                report.regressed.append(rec.fingerprint)
        reason = self.policy.enqueue_reason(old, rec)
        if reason is not None:
            report.to_fix.append(rec.fingerprint)
            report.reasons[rec.fingerprint] = reason

    def _move(self, result: ObserveResult, to: Status, reason: str, report: IngestReport,
              fields: dict[str, Any] | None = None) -> ErrorRecord | None:
        """Conditional status change from the status ``observe`` saw; None when someone else
        changed the record first (another ingest already did it, or a person did)."""
        seen = result.record.status
        try:
            rec = self.store.transition(result.record.fingerprint, to, expected=[seen], reason=reason,
                                        fields=fields)
        except (ConcurrentUpdate, InvalidTransition):
            return None
        report.writes += 1
        return rec
