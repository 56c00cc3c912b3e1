"""Re-key stored error records to the current fingerprint version (v1 -> v2), merging collisions.

v2 ids do not depend on where the code ran, so several v1 records (one per deploy folder, clone
or CI checkout) can be one v2 error. ``plan`` groups the records by their v2 id; ``merge`` folds
a group into one record: counts summed, first/last seen widened, every attempt kept (numbered
after the primary's own), tokens and cost summed, and the PR links kept (the primary's as
``pr_url``, the most recent other one as ``previous_pr_url``, all of them in ``merged_from``
notes on ``status_reason``). The primary is the record whose state matters most: an open PR
before a queued fix before a new error before a finished one; ties go to the most recently seen.

Records being fixed (``FIXING``) are left for a later run: a running workflow still writes to
their old id. Store adapters apply a plan and keep each old id as an alias of its new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from selfheal.domain.fingerprint import VERSION, FingerprintConfig, fingerprint
from selfheal.domain.records import Attempt, ErrorRecord, Status
from selfheal.domain.traceback import Frame, Link, Traceback

# Which record of a merged group keeps its status, branch and PR (lower is preferred).
_PRIMARY_ORDER = {Status.PR_OPEN: 0, Status.QUEUED: 1, Status.REGRESSED: 2, Status.NEW: 3, Status.FAILED: 4,
                  Status.ABSTAINED: 5, Status.RESOLVED: 6, Status.IGNORED: 7, Status.FIXING: 8}


@dataclass
class Merge:
    """One v2 error and the stored records it replaces (``old_ids`` become aliases)."""

    new_id: str
    records: list[ErrorRecord]
    merged: ErrorRecord
    attempt_numbers: dict[tuple[str, int], int]  # (old id, old attempt number) -> new number

    @property
    def old_ids(self) -> list[str]:
        return [r.fingerprint for r in self.records if r.fingerprint != self.new_id]

    @property
    def merged_from(self) -> list[MergedRecord]:
        """Every record of the merge (the new id's own included) as it was before it."""
        return [MergedRecord(r.fingerprint, r.status, r.count) for r in self.records]


@dataclass(frozen=True)
class MergedRecord:
    """One stored record as a migration found it: its id, status and count before the merge
    (the dispatch path decides from these whether the merged record still needs a fix request)."""

    id: str
    status: Status
    count: int


@dataclass
class MigrationReport:
    """What a migration did: records re-keyed, merged away, left alone (and why)."""

    migrated: int = 0  # records whose id changed
    merged: int = 0  # records folded into another record of the same v2 id
    skipped: list[str] = field(default_factory=list)  # "<fingerprint>: reason"
    aliases: dict[str, str] = field(default_factory=dict)  # old id -> new id


def current_id(record: ErrorRecord, config: FingerprintConfig | None = None) -> str | None:
    """The record's id under the current version: from its sample traceback, else from its
    exception type and in-app frames; None when neither is available."""
    from selfheal.domain.extract import extract_from_text

    found = extract_from_text(record.sample_trace) if record.sample_trace else []
    if found:
        return fingerprint(found[-1], config).id
    if not record.exc_type and not record.frames:
        return None
    frames = [Frame(f.file, f.line, f.function, f.source) for f in record.frames]
    return fingerprint(Traceback(chain=[Link(type=record.exc_type, message=record.message, frames=frames)]),
                       config).id


def _primary(records: list[ErrorRecord]) -> ErrorRecord:
    newest_first = sorted(records, key=lambda r: r.last_seen, reverse=True)
    return min(newest_first, key=lambda r: _PRIMARY_ORDER.get(r.status, 9))


def merge(new_id: str, records: list[ErrorRecord]) -> Merge:
    """Fold ``records`` (one v2 error) into one record keyed ``new_id`` (see module docstring)."""
    primary = _primary(records)
    others = [r for r in records if r is not primary]
    attempts: list[Attempt] = [a.model_copy() for a in primary.attempts]
    numbers = {(primary.fingerprint, a.number): a.number for a in primary.attempts}
    for rec in sorted(others, key=lambda r: r.first_seen):
        for att in rec.attempts:
            numbers[(rec.fingerprint, att.number)] = len(attempts) + 1
            attempts.append(att.model_copy(update={"number": len(attempts) + 1}))
    other_prs = [r.pr_url or r.previous_pr_url for r in sorted(others, key=lambda r: r.updated_at)]
    other_prs = [p for p in other_prs if p]
    previous = primary.previous_pr_url or (other_prs[-1] if other_prs else None)
    notes = [primary.status_reason] if primary.status_reason else []
    if others:
        notes.append("merged from " + ", ".join(r.fingerprint[:12] + (f" ({r.pr_url})" if r.pr_url else "")
                                               for r in others))
    latest = max(records, key=lambda r: r.last_seen)
    merged = primary.model_copy(update={
        "fingerprint": new_id, "fingerprint_version": VERSION,
        "count": sum(r.count for r in records),
        "first_seen": min(r.first_seen for r in records), "last_seen": latest.last_seen,
        "sample_trace": latest.sample_trace or primary.sample_trace,
        "attempts": attempts, "previous_pr_url": previous,
        "status_reason": "; ".join(notes) or None,
        "tokens_in": sum(r.tokens_in for r in records), "tokens_out": sum(r.tokens_out for r in records),
        "cost_usd": sum(r.cost_usd for r in records),
        "updated_at": max(r.updated_at for r in records),
    })
    return Merge(new_id=new_id, records=records, merged=merged, attempt_numbers=numbers)


def plan(records: Iterable[ErrorRecord], config: FingerprintConfig | None = None,
         report: MigrationReport | None = None) -> list[Merge]:
    """The merges that bring ``records`` to the current version (records already current join the
    group of their id, so a v1 record merges into a v2 one that ingest created meanwhile)."""
    report = report if report is not None else MigrationReport()
    groups: dict[str, list[ErrorRecord]] = {}
    stale: set[str] = set()
    for rec in records:
        if rec.fingerprint_version == VERSION:
            groups.setdefault(rec.fingerprint, []).append(rec)
            continue
        if rec.status == Status.FIXING:
            report.skipped.append(f"{rec.fingerprint}: being fixed; migrated on a later run")
            continue
        new_id = current_id(rec, config)
        if new_id is None:
            report.skipped.append(f"{rec.fingerprint}: no sample traceback or frames to re-key from")
            continue
        groups.setdefault(new_id, []).append(rec)
        stale.add(new_id)
    merges = []
    for new_id in sorted(stale):
        group = groups[new_id]
        if any(r.status == Status.FIXING for r in group):
            report.skipped.extend(f"{r.fingerprint}: its v2 error is being fixed; migrated on a later run"
                                  for r in group if r.fingerprint != new_id)
            continue
        m = merge(new_id, group)
        report.migrated += len(m.old_ids)
        report.merged += len(group) - 1
        report.aliases.update(dict.fromkeys(m.old_ids, new_id))
        merges.append(m)
    return merges
