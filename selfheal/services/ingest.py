"""Ingest: log text -> tracebacks -> fingerprints -> one store write per distinct error.

Duplicates of one error within a batch are counted in memory and merged with ONE
``ErrorStore.observe`` per distinct fingerprint (the cost model depends on it). After each
write the policy decides: a new error matching an ignore rule becomes IGNORED; an error seen
again after RESOLVED becomes REGRESSED (its PR kept as ``previous_pr_url``); and the report
lists the errors whose fix should start (``to_fix``), decided exactly as the AWS dispatch
function decides from the table's stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from selfheal.domain.records import MESSAGE_MAX_CHARS, ErrorRecord, Observation, Status, cap_text, utcnow
from selfheal.errors import ConcurrentUpdate, InvalidTransition
from selfheal.ports import DeliveryLedger, ErrorStore, ObserveResult
from selfheal.services.policy import Policy

if TYPE_CHECKING:
    from selfheal.domain.cloudwatch import SubscriptionBatch
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
    problems: list[str] = field(default_factory=list)  # one readable line per skipped input

    def merge(self, other: IngestReport) -> None:
        """Add ``other`` (a later batch) into this report."""
        for name in ("tracebacks", "distinct", "duplicates", "writes", "oversized", "redelivered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("new", "regressed", "ignored", "to_fix", "problems"):
            getattr(self, name).extend(getattr(other, name))
        self.reasons.update(other.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class IngestService:
    """Turns log input into error records (see module docstring)."""

    def __init__(self, store: ErrorStore, policy: Policy, fingerprint_config: FingerprintConfig,
                 redact_patterns: Iterable[str] = (), ledger: DeliveryLedger | None = None) -> None:
        from selfheal.domain.redact import Redactor

        self.store = store
        # Samples and messages are stored, shown in the CLI and copied into PRs: redact them once here.
        self.redactor = Redactor(tuple(redact_patterns))
        self.policy = policy
        self.fingerprint_config = fingerprint_config
        # Occurrence identity on AWS: a delivery (log stream + event ids) is counted once.
        self.ledger = ledger

    def ingest_lines(self, lines: Iterable[str], source: str,
                     seen_at: datetime | None = None) -> IngestReport:
        """Ingest log lines (a file, stdin, a chunk of a followed file) from ``source``."""
        from selfheal.domain.extract import extract_tracebacks

        when = seen_at or utcnow()
        return self.ingest_tracebacks(((tb, when) for tb in extract_tracebacks(lines)), source)

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
        found = ((tb, datetime.fromtimestamp(ev.timestamp / 1000, UTC))
                 for tb, ev in extract_from_batch(batch))
        applied: set[str] = set()
        try:
            report.merge(self.ingest_tracebacks(found, source, skip=done, applied=applied))
        except Exception:
            if key is not None and self.ledger is not None:
                self.ledger.fail(key, done | applied)  # the retry writes only the rest
            raise
        return report

    def ingest_tracebacks(self, found: Iterable[tuple[Traceback, datetime]], source: str, *,
                          skip: set[str] | frozenset[str] = frozenset(),
                          applied: set[str] | None = None) -> IngestReport:
        """Group tracebacks by fingerprint in memory, then write once per distinct fingerprint
        (except those in ``skip``, written by an earlier try); ``applied`` collects the written."""
        from selfheal.domain.fingerprint import fingerprint
        from selfheal.domain.redact import redact_frames

        report = IngestReport()
        pending: dict[str, Observation] = {}
        for tb, when in found:
            report.tracebacks += 1
            fp = fingerprint(tb, self.fingerprint_config)
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
        report.duplicates = report.tracebacks - len(report.new)
        return report

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
