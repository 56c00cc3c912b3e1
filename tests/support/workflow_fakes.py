"""Small in-memory fakes of the ports the fix workflow uses (tests only), plus a builder of
``WorkflowServices`` and a local engine wired to the real handlers.

The fakes follow the port contracts (status transitions are checked with the domain's
``check_transition``; steps are replaced by state + start time) so a drift shows up in tests.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from selfheal.adapters.artifacts_fs import FsArtifactStore
from selfheal.adapters.sfn_local import LocalWorkflowEngine
from selfheal.adapters.store_common import ATTEMPT_FIELDS, attempt_fields, scrub, scrub_step
from selfheal.domain.capture import CapturedInput, merge_inputs
from selfheal.domain.fixing import EditProposal, FixContext, ModelReply, Prompt
from selfheal.domain.records import (
    Attempt,
    ErrorRecord,
    FrameRef,
    Observation,
    Status,
    StepRecord,
    check_running,
    check_transition,
    utcnow,
)
from selfheal.domain.validation_report import GateResult, ValidationReport
from selfheal.errors import ConcurrentUpdate, ErrorNotFound, SourceNotFound
from selfheal.ports import ObserveResult, PullRequest, SourceRepository
from selfheal.services.workflow.catalogue import STATES
from selfheal.services.workflow.deps import PullRequestDraft, WorkflowServices
from selfheal.settings import Settings


class MemoryErrorStore:
    """``ErrorStore`` in a dict, thread safe (moto runs steps in its own threads)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._records: dict[str, ErrorRecord] = {}
        self._inputs: dict[str, list[CapturedInput]] = {}

    def observe(self, obs: Observation) -> ObserveResult:
        with self._lock:
            rec = self._records.get(obs.fingerprint)
            if rec is None:
                rec = ErrorRecord(fingerprint=obs.fingerprint, exc_type=obs.exc_type, message=obs.message,
                                  frames=obs.frames, sample_trace=obs.sample_trace, count=obs.count,
                                  first_seen=obs.seen_at, last_seen=obs.seen_at, source=obs.source)
                self._records[obs.fingerprint] = rec
                return ObserveResult(record=rec.model_copy(deep=True), created=True)
            rec.count += obs.count
            rec.last_seen = max(rec.last_seen, obs.seen_at)
            return ObserveResult(record=rec.model_copy(deep=True), created=False,
                                 previous_status=rec.status)

    def get(self, fingerprint: str) -> ErrorRecord | None:
        with self._lock:
            rec = self._records.get(fingerprint)
            return rec.model_copy(deep=True) if rec else None

    def list(self, status: Status | None = None, limit: int = 1000) -> list[ErrorRecord]:
        with self._lock:
            found = [r for r in self._records.values() if status is None or r.status == status]
            found.sort(key=lambda r: r.last_seen, reverse=True)  # newest seen first, like the adapters
            return [r.model_copy(deep=True) for r in found[:limit]]

    def add_inputs(self, fingerprint: str, inputs: Sequence[CapturedInput], keep: int) -> int:
        """``InputStore``: the first ``keep`` distinct inputs, as both adapters keep them."""
        with self._lock:
            merged = merge_inputs(self._inputs.get(fingerprint, []), inputs, keep)
            self._inputs[fingerprint] = merged
            return len(merged)

    def inputs(self, fingerprint: str) -> list[CapturedInput]:
        with self._lock:
            return list(self._inputs.get(fingerprint, []))

    def find(self, prefix: str) -> list[str]:
        """Fingerprints starting with ``prefix`` (both real adapters offer this too)."""
        with self._lock:
            return sorted(fp for fp in self._records if fp.startswith(prefix))

    def _rec(self, fingerprint: str) -> ErrorRecord:
        rec = self._records.get(fingerprint)
        if rec is None:
            raise ErrorNotFound(fingerprint)
        return rec

    def transition(self, fingerprint: str, to: Status, *, expected: Sequence[Status] | None = None,
                   reason: str | None = None, fields: dict[str, Any] | None = None) -> ErrorRecord:
        with self._lock:
            rec = self._rec(fingerprint)
            if expected is not None and rec.status not in expected:
                raise ConcurrentUpdate(f"status is {rec.status}, expected one of {list(expected)}")
            check_transition(rec.status, to)
            rec.status, rec.status_reason = to, scrub(reason)
            for k, v in (fields or {}).items():
                setattr(rec, k, v)
            return rec.model_copy(deep=True)

    def start_attempt(self, fingerprint: str, execution: str | None) -> Attempt:
        with self._lock:
            rec = self._rec(fingerprint)
            att = Attempt(number=len(rec.attempts) + 1, execution=execution)
            rec.attempts.append(att)
            return att.model_copy(deep=True)

    def _attempt(self, fingerprint: str, number: int) -> Attempt:
        for att in self._rec(fingerprint).attempts:
            if att.number == number:
                return att
        raise ErrorNotFound(f"{fingerprint} has no attempt {number}")

    def record_step(self, fingerprint: str, attempt: int, step: StepRecord, *,
                    only_running: bool = False) -> None:
        step = scrub_step(step)  # the adapters' shared write-time scrub
        with self._lock:
            att = self._attempt(fingerprint, attempt)
            if only_running:
                check_running(fingerprint, attempt, att.outcome)  # the adapters' rule
            for i, old in enumerate(att.steps):
                if old.state == step.state and old.started_at == step.started_at:
                    att.steps[i] = step
                    return
            att.steps.append(step)

    def finish_attempt(self, fingerprint: str, attempt: int, *, only_running: bool = False,
                       **fields: Any) -> None:
        with self._lock:
            att = self._attempt(fingerprint, attempt)
            if only_running:
                check_running(fingerprint, attempt, att.outcome)  # the adapters' rule
            # Scrubbed as the adapters do; unlike them the fake also lets tests set other fields
            # (a backdated started_at, say).
            known = attempt_fields({k: v for k, v in fields.items() if k in ATTEMPT_FIELDS})
            for k, v in {**fields, **known}.items():
                setattr(att, k, v)

    def add_usage(self, fingerprint: str, attempt: int, tokens_in: int, tokens_out: int,
                  cost_usd: float) -> None:
        with self._lock:
            rec, att = self._rec(fingerprint), self._attempt(fingerprint, attempt)
            for obj in (rec, att):
                obj.tokens_in += tokens_in
                obj.tokens_out += tokens_out
                obj.cost_usd += cost_usd

    def usage_since(self, since: datetime) -> float:
        with self._lock:
            return sum(a.cost_usd for r in self._records.values() for a in r.attempts
                       if a.started_at >= since)

    def count_attempts_since(self, since: datetime) -> int:
        with self._lock:
            return sum(1 for r in self._records.values() for a in r.attempts if a.started_at >= since)


class DictSource:
    """``SourceRepository`` over one revision held in a dict."""

    def __init__(self, files: dict[str, str], revision: str = "c0ffee" * 6 + "abcd") -> None:
        self.files = files
        self.revision = revision

    def default_branch(self) -> str:
        return "main"

    def resolve(self, ref: str | None = None) -> str:
        return self.revision

    def list_files(self, revision: str) -> list[str]:
        return sorted(self.files)

    def read_file(self, path: str, revision: str) -> str | None:
        return self.files.get(path)

    @contextmanager
    def checkout(self, revision: str) -> Iterator[Path]:
        raise NotImplementedError("DictSource has no working tree")
        yield Path()  # pragma: no cover


class MemoryCodeHost:
    """``CodeHost`` that remembers commits and pull requests; can fail on demand."""

    def __init__(self) -> None:
        self.commits: dict[str, dict[str, str]] = {}
        self.prs: dict[str, PullRequest] = {}
        self.fail_open: list[Exception] = []  # raised (popped) by open_pull_request first
        self.open_calls = 0

    def commit_branch(self, branch: str, base_revision: str, files: dict[str, str], message: str) -> str:
        self.commits[branch] = dict(files)
        return f"commit-{len(self.commits)}-{branch}"

    def find_pull_request(self, branch: str) -> PullRequest | None:
        return self.prs.get(branch)

    def open_pull_request(self, branch: str, base: str, title: str, body: str,
                          labels: Sequence[str] = (), draft: bool = True) -> PullRequest:
        self.open_calls += 1
        if self.fail_open:
            raise self.fail_open.pop(0)
        existing = self.prs.get(branch)
        pr = PullRequest(url=f"local://pr/{len(self.prs) + 1 if existing is None else existing.number}",
                         number=len(self.prs) + 1, branch=branch, base=base, title=title,
                         labels=list(labels), draft=draft, created=existing is None)
        self.prs[branch] = pr
        return pr


class ScriptedModel:
    """``FixModel`` whose replies (text or an exception to raise) are scripted in order."""

    model_id = "scripted"

    def __init__(self, script: Sequence[str | Exception]) -> None:
        self.script = list(script)
        self.calls: list[Prompt] = []

    def complete(self, prompt: Prompt) -> ModelReply:
        self.calls.append(prompt)
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        return ModelReply(text=item, model_id=self.model_id, tokens_in=100, tokens_out=20)


def simple_context(record: ErrorRecord, source: SourceRepository, revision: str) -> FixContext:
    """Offer the files of the record's frames that exist in ``source``."""
    files = {f.file: text for f in record.frames if (text := source.read_file(f.file, revision)) is not None}
    if not files:
        raise SourceNotFound("no frame maps to a file")
    return FixContext(fingerprint=record.fingerprint, exc_type=record.exc_type, message=record.message,
                      frames=record.frames, revision=revision, offered_files=sorted(files), files=files)


def simple_prompt(context: FixContext, round: int, feedback: str | None) -> Prompt:
    return Prompt(system="fix it", user=f"round {round}\n{feedback or ''}", attempt=round,
                  feedback=feedback, context=context)


class ScriptedValidator:
    """Valid unless a scripted verdict says otherwise: a list of failed-gate names or None."""

    def __init__(self, verdicts: Sequence[str | None] = ()) -> None:
        self.verdicts = list(verdicts)
        self.calls = 0

    def __call__(self, context: FixContext, proposal: EditProposal, revision: str,
                 tree: bytes | None = None) -> ValidationReport:
        self.calls += 1
        failed = self.verdicts.pop(0) if self.verdicts else None
        if failed:
            return ValidationReport(valid=False, failed_gate=failed,
                                    gates=[GateResult(gate=failed, passed=False, detail="boom")],
                                    feedback=f"gate {failed} failed: test_x still fails")
        return ValidationReport(valid=True, verified=True,
                                gates=[GateResult(gate="tests", passed=True)])


def simple_pr(draft: PullRequestDraft) -> tuple[str, str]:
    body = f"{draft.proposal.summary}\n\nfingerprint {draft.record.fingerprint}"
    return f"Fix {draft.record.exc_type}", body


APP = "app/handler.py"
APP_TEXT = "def handle(event):\n    return event['order_items']\n"
GOOD_REPLY = (f"SUMMARY: default to no items\n<<<<<<< SEARCH {APP}\n    return event['order_items']\n"
              "=======\n    return event.get('order_items', [])\n>>>>>>> REPLACE\n")


def seed_error(store: MemoryErrorStore | Any, fingerprint: str = "f" * 16 + "0123456789abcdef") -> str:
    store.observe(Observation(fingerprint=fingerprint, exc_type="KeyError", message="'order_items'",
                              frames=[FrameRef(file=APP, function="handle", line=2)],
                              sample_trace="Traceback ...\nKeyError: 'order_items'", seen_at=utcnow()))
    return fingerprint


def make_services(tmp_path: Path, *, model: Any = None, validator: Any = None, store: Any = None,
                  code_host: Any = None, **settings: Any) -> WorkflowServices:
    return WorkflowServices(
        settings=Settings(home=tmp_path / "home", **settings),
        store=store if store is not None else MemoryErrorStore(),
        artifacts=FsArtifactStore(tmp_path / "artifacts"),
        source=DictSource({APP: APP_TEXT}),
        code_host=code_host if code_host is not None else MemoryCodeHost(),
        model=model if model is not None else ScriptedModel([GOOD_REPLY]),
        build_context=simple_context, build_prompt=simple_prompt,
        validate=validator if validator is not None else ScriptedValidator(),
        compose_pr=simple_pr,
    )


def real_handlers() -> dict[str, Callable[[dict[str, Any], Any], Any]]:
    """State name -> the real Lambda handler function of ``functions/``."""
    return {s.name: importlib.import_module(s.handler_module).handler for s in STATES}


@contextmanager
def local_engine(services: WorkflowServices, retry_scale: float = 0.001) -> Iterator[LocalWorkflowEngine]:
    """The moto engine running the real ASL and handlers with ``services`` installed."""
    from selfheal.compose import aws

    aws.configure(steps=services)
    try:
        with LocalWorkflowEngine(real_handlers(), retry_scale=retry_scale) as engine:
            yield engine
    finally:
        aws.configure(steps=None)
