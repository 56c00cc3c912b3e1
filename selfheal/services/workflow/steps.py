"""The business logic of each fix-workflow state. Handlers in ``functions/`` are thin wrappers.

Each step takes the validated payload (its state's input model) and the open ``StepHandle``
(``state_handler`` records the step around it), reads its inputs from artifacts, writes its
outputs as artifacts through the handle and returns the updated payload.
"""

from __future__ import annotations

import json
from typing import Any

from selfheal.domain.cost import CostGuard, PriceTable
from selfheal.domain.edit_format import apply_proposal
from selfheal.domain.fixing import EditProposal, FixContext, ModelReply, Prompt
from selfheal.domain.pr_body import diff_summary
from selfheal.domain.prompt import prompt_tokens
from selfheal.domain.records import ErrorRecord, utcnow
from selfheal.domain.reproduce import with_regression_test
from selfheal.domain.validation_report import ValidationReport
from selfheal.errors import (
    EditRejected,
    ErrorNotFound,
    PatchDoesNotApply,
    PullRequestClosed,
    SourceNotFound,
)
from selfheal.names import Artifact
from selfheal.services.generate import judge_reply, next_round_limits
from selfheal.services.publish import commit_message, fix_branch_name
from selfheal.services.workflow.deps import PullRequestDraft, WorkflowServices
from selfheal.services.workflow.models import (
    REDRIVE_MARKER,
    BuildPromptInput,
    CommitBranchInput,
    FetchSourceInput,
    FixState,
    InvokeModelInput,
    MarkDoneInput,
    OpenPullRequestInput,
    RecordAbstainInput,
    ValidatePatchInput,
)
from selfheal.services.workflow.recorder import StepHandle
from selfheal.services.workflow.settle import settle_status

REASON_MAX_CHARS = 300


def _record(svc: WorkflowServices, fingerprint: str) -> ErrorRecord:
    record = svc.store.get(fingerprint)
    if record is None:
        raise ErrorNotFound(f"no error record for fingerprint {fingerprint}")
    return record


def _load_json(svc: WorkflowServices, ref: str) -> Any:
    return json.loads(svc.artifacts.get_bytes(ref).decode())


def _context(svc: WorkflowServices, payload: FixState) -> FixContext:
    return FixContext.model_validate(_load_json(svc, payload.artifacts[Artifact.CONTEXT]))


def _first_line(text: str) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line[:REASON_MAX_CHARS]


def fetch_source(svc: WorkflowServices, payload: FetchSourceInput, step: StepHandle) -> FixState:
    """Resolve the base revision, build the fault context, store it; start a fresh budget.
    With ``svc.snapshot_tree`` also store the tree at that revision (AWS: ValidatePatch reads it
    instead of holding the code host's token)."""
    record = _record(svc, payload.fingerprint)
    queued = _queued_redrive(svc, record, payload)
    if queued is not None:
        resumed, step.artifacts[Artifact.REDRIVE_REQUEST] = queued
        if resumed.resume_from != step.state:
            return resumed  # the AfterFetch choice jumps to resumed.resume_from
        payload.redrive, payload.resume_from = True, None
    base = svc.settings.base_branch or svc.source.default_branch()
    revision = svc.source.resolve(base)
    context = svc.build_context(record, svc.source, revision)
    if not context.offered_files:
        raise SourceNotFound(f"no repository file matches an in-app frame of {record.exc_type}")
    ref = step.save_json("context.json", context.model_dump(mode="json"))
    step.artifacts[Artifact.CONTEXT] = ref
    payload.artifacts = {Artifact.CONTEXT: ref}
    if svc.snapshot_tree:
        from selfheal.adapters.tree_snapshot import snapshot_tree

        tree = step.save_bytes("tree.tar.gz", snapshot_tree(svc.source, revision))
        step.artifacts[Artifact.TREE] = payload.artifacts[Artifact.TREE] = tree
    payload.revision, payload.base_branch = revision, base
    payload.round, payload.max_rounds = 0, max(1, svc.settings.max_attempts)
    payload.verdict, payload.reasons = "pending", []
    return payload


def _queued_redrive(svc: WorkflowServices, record: ErrorRecord,
                    payload: FixState) -> tuple[FixState, str] | None:
    """A re-drive queued on AWS (``request_redrive``) left a marker step on the attempt before
    this one, pointing at the input of the state to resume from: that input (for this attempt)
    and the request's reference. ``request_redrive`` checked that the state is resumable; an
    unknown name would land on ``ResumeAt``'s default, FetchSource, which then starts over."""
    if payload.attempt is None or payload.redrive:
        return None
    previous = next((a for a in record.attempts if a.number == payload.attempt - 1), None)
    marker = previous.steps[-1] if previous and previous.steps else None
    if marker is None or marker.state != REDRIVE_MARKER or not marker.artifacts.get(Artifact.REQUEST):
        return None
    data = _load_json(svc, marker.artifacts[Artifact.REQUEST])
    resumed = FixState.model_validate({**data, "attempt": payload.attempt, "redrive": True,
                                       "execution": payload.execution})
    if not resumed.resume_from:
        return None
    return resumed, marker.artifacts[Artifact.REQUEST]


def build_prompt(svc: WorkflowServices, payload: BuildPromptInput, step: StepHandle) -> FixState:
    """Render the next round's prompt (with the previous round's feedback) as an artifact."""
    context = _context(svc, payload)
    feedback_ref = payload.artifacts.get(Artifact.FEEDBACK)
    feedback = svc.artifacts.get_bytes(feedback_ref).decode() if feedback_ref else None
    round_no = payload.round + 1
    # How the previous reply stopped sizes this round (a cut-off: a higher output cap; the
    # context window exceeded: a smaller context).
    max_output = svc.settings.max_output_tokens
    previous_prompt = payload.artifacts.get(Artifact.PROMPT)
    previous_reply = payload.artifacts.get(Artifact.REPLY)
    if previous_prompt and previous_reply:
        context, max_output = next_round_limits(
            Prompt.model_validate(_load_json(svc, previous_prompt)),
            ModelReply.model_validate(_load_json(svc, previous_reply)), context, svc.settings)
    prompt = svc.build_prompt(context, round_no, feedback).model_copy(
        update={"max_output_tokens": max_output})
    ref = step.save_json(f"round-{round_no}/prompt.json", prompt.model_dump(mode="json"))
    step.artifacts[Artifact.PROMPT] = payload.artifacts[Artifact.PROMPT] = ref
    payload.round, payload.verdict = round_no, "pending"
    return payload


def _prices(svc: WorkflowServices) -> PriceTable:
    return PriceTable(overrides=getattr(svc.settings, "model_prices", []))


def invoke_model(svc: WorkflowServices, payload: InvokeModelInput, step: StepHandle) -> FixState:
    """Ask the model; record tokens and cost; store the reply as an artifact."""
    record = _record(svc, payload.fingerprint)
    spent = sum(a.cost_usd for a in record.attempts if a.number == payload.attempt)
    prompt = Prompt.model_validate(_load_json(svc, payload.artifacts[Artifact.PROMPT]))
    prices = _prices(svc)
    # Stop before the call, not after: the worst case of this call against both caps.
    CostGuard(svc.settings.max_cost_per_fix_usd, svc.settings.max_cost_per_day_usd,
              usage=svc.store, prices=prices).check(
        svc.model.model_id, prompt_tokens(prompt), prompt.max_output_tokens, spent)
    reply = svc.model.complete(prompt)
    cost = reply.cost_usd or prices.price(reply.model_id or svc.model.model_id).cost(
        reply.tokens_in, reply.tokens_out)
    reply = reply.model_copy(update={"cost_usd": cost})
    svc.store.add_usage(payload.fingerprint, payload.attempt, reply.tokens_in, reply.tokens_out, cost)
    ref = step.save_json(f"round-{payload.round}/reply.json", reply.model_dump(mode="json"))
    step.artifacts[Artifact.REPLY] = payload.artifacts[Artifact.REPLY] = ref
    payload.model_id = reply.model_id
    return payload


def _verdict(svc: WorkflowServices, payload: ValidatePatchInput, context: FixContext,
             reply: ModelReply) -> tuple[str, str, EditProposal | None, ValidationReport | None]:
    """(verdict, feedback, proposal, report) for one reply."""
    prompt_ref = payload.artifacts.get(Artifact.PROMPT)
    cap = (Prompt.model_validate(_load_json(svc, prompt_ref)).max_output_tokens if prompt_ref
           else svc.settings.max_output_tokens)
    judged = judge_reply(reply, context.offered_files, cap)  # usage is recorded: stop reason, then parse
    if judged.outcome == "rejected":
        return "invalid", judged.reason or "the reply was rejected", None, None
    proposal = judged.proposal
    if proposal is None or proposal.abstained:  # the model's abstention, or the provider's filter
        reason = f"model abstained: {judged.reason}" if proposal is not None else str(judged.reason)
        return "abstain", reason, proposal, None
    proposal = with_regression_test(proposal, context)  # the recorded input's replay ships with the fix
    try:
        report = svc.validate(context, proposal, payload.revision, _tree(svc, payload))
    except (PatchDoesNotApply, EditRejected) as exc:
        return "invalid", f"{type(exc).__name__}: {exc}", proposal, None
    if not report.valid:
        return "invalid", report.feedback or f"gate {report.failed_gate} failed", proposal, report
    if not report.verified and svc.settings.unverified == "abstain":
        return "invalid", "no test verifies this fix (unverified = abstain)", proposal, report
    return "valid", report.feedback, proposal, report


def _tree(svc: WorkflowServices, payload: FixState) -> bytes | None:
    """The stored source tree of the payload's revision, when FetchSource stored one."""
    ref = payload.artifacts.get(Artifact.TREE)
    return svc.artifacts.get_bytes(ref) if ref else None


def validate_patch(svc: WorkflowServices, payload: ValidatePatchInput, step: StepHandle) -> FixState:
    """Parse the reply and run the gates; set ``verdict`` and store feedback for the next round."""
    context = _context(svc, payload)
    reply = ModelReply.model_validate(_load_json(svc, payload.artifacts[Artifact.REPLY]))
    verdict, feedback, proposal, report = _verdict(svc, payload, context, reply)
    prefix = f"round-{payload.round}"
    if proposal is not None:
        ref = step.save_json(f"{prefix}/proposal.json", proposal.model_dump(mode="json"))
        step.artifacts[Artifact.PROPOSAL] = payload.artifacts[Artifact.PROPOSAL] = ref
    if report is not None:
        ref = step.save_json(f"{prefix}/validation.json", report.model_dump(mode="json"))
        step.artifacts[Artifact.VALIDATION] = payload.artifacts[Artifact.VALIDATION] = ref
        payload.verified = report.verified
    if (verdict != "valid" and report is not None and not report.verified
            and (report.valid or report.failed_gate == "verified")):
        # Valid but unverified (unverified = abstain): kept for a human if the error abstains.
        payload.artifacts[Artifact.SUGGESTED] = payload.artifacts[Artifact.PROPOSAL]
    if verdict != "valid":
        ref = step.save_text(f"{prefix}/feedback.txt", feedback)
        step.artifacts[Artifact.FEEDBACK] = payload.artifacts[Artifact.FEEDBACK] = ref
        payload.reasons.append(f"round {payload.round}: {_first_line(feedback)}")
    payload.verdict = verdict  # type: ignore[assignment]
    return payload


def commit_branch(svc: WorkflowServices, payload: CommitBranchInput, step: StepHandle) -> FixState:
    """One commit on the base revision with the validated edit, on the error's branch."""
    record = _record(svc, payload.fingerprint)
    context = _context(svc, payload)
    proposal = EditProposal.model_validate(_load_json(svc, payload.artifacts[Artifact.PROPOSAL]))
    patched = apply_proposal(context.files, proposal)
    changed = {p: t for p, t in patched.items() if context.files.get(p) != t}
    if not changed:
        raise PatchDoesNotApply("the validated edit changes no file")
    branch = fix_branch_name(record.fingerprint, svc.settings.branch_prefix)
    existing = svc.code_host.find_pull_request(branch)
    if existing is not None and existing.state == "closed" and not payload.redrive:
        raise PullRequestClosed(f"pull request {existing.url} for {branch} was closed without "
                                "merging; re-drive the error to open a new one")
    summary = proposal.summary or proposal.root_cause or f"fix {record.exc_type}"
    message = commit_message(f"selfheal: {' '.join(summary.split())[:65]}", record.fingerprint,
                             f"{record.exc_type} at {record.location}")
    payload.commit = svc.code_host.commit_branch(branch, payload.revision, changed, message)
    payload.branch = branch
    step.artifacts[Artifact.COMMIT] = step.save_json("commit.json", {
        "branch": branch, "commit": payload.commit, "files": sorted(changed)})
    return payload


def open_pull_request(svc: WorkflowServices, payload: OpenPullRequestInput, step: StepHandle) -> FixState:
    """Open (or update) the draft pull request; the model is not involved here."""
    draft = PullRequestDraft(
        record=_record(svc, payload.fingerprint), context=_context(svc, payload),
        proposal=EditProposal.model_validate(_load_json(svc, payload.artifacts[Artifact.PROPOSAL])),
        report=ValidationReport.model_validate(_load_json(svc, payload.artifacts[Artifact.VALIDATION])),
        branch=payload.branch, base=payload.base_branch or svc.source.default_branch(),
        execution=payload.execution_name, model_id=payload.model_id, attempt=payload.attempt)
    title, body = svc.compose_pr(draft)
    labels = list(svc.settings.pr_labels) + ([] if payload.verified else ["unverified"])
    pr = svc.code_host.open_pull_request(payload.branch, draft.base, title, body, labels=labels,
                                         draft=True)
    step.artifacts[Artifact.PULL_REQUEST] = step.save_json("pull_request.json", pr.model_dump(mode="json"))
    payload.pr_url = pr.url
    return payload


def mark_done(svc: WorkflowServices, payload: MarkDoneInput, step: StepHandle) -> FixState:
    """Close the attempt (``pr_open``), then FIXING -> PR_OPEN with branch and PR URL."""
    # The attempt first, then the status (as RecordFailure does): whoever sees PR_OPEN sees
    # the attempt finished, and the conditional finish loses to a sweep that finished it first.
    svc.store.finish_attempt(payload.fingerprint, payload.attempt, only_running=True,
                             outcome="pr_open", finished_at=utcnow())
    settle_status(svc.store, payload.fingerprint, payload.attempt, payload.branch, payload.pr_url)
    return payload


def _keep_suggested(svc: WorkflowServices, payload: FixState, step: StepHandle) -> str:
    """The last valid but unverified edit as a unified diff artifact; its reference."""
    context = _context(svc, payload)
    proposal = EditProposal.model_validate(_load_json(svc, payload.artifacts[Artifact.SUGGESTED]))
    patched = apply_proposal(context.files, proposal)
    _, diff = diff_summary(context.files, {p: t for p, t in patched.items() if context.files.get(p) != t})
    return step.save_text("suggested.diff", diff)


def record_abstain(svc: WorkflowServices, payload: RecordAbstainInput, step: StepHandle) -> FixState:
    """FIXING -> ABSTAINED with the reason of every round."""
    reasons = payload.reasons or ["the attempt budget is spent"]
    if payload.verdict == "invalid":
        reasons = [*reasons, f"no valid fix after {payload.round} of {payload.max_rounds} rounds"]
    if payload.artifacts.get(Artifact.SUGGESTED):
        ref = step.artifacts[Artifact.SUGGESTED_PATCH] = _keep_suggested(svc, payload, step)
        reasons = [*reasons, f"suggested patch kept (valid, not verified): {ref}"]
    svc.store.finish_attempt(payload.fingerprint, payload.attempt, only_running=True,
                             outcome="abstained", reasons=reasons, finished_at=utcnow())
    settle_status(svc.store, payload.fingerprint, payload.attempt)
    payload.reasons = reasons
    return payload
