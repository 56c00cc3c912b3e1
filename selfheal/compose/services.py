"""The workflow steps' services from their parts, shared by the local and the AWS composition:
the model of a spec, and the four callables ``WorkflowServices`` adapts (context, prompt,
validation, pull request text) bound to the settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from selfheal.settings import Settings

if TYPE_CHECKING:
    from selfheal.domain.fixing import EditProposal, FixContext, Prompt
    from selfheal.domain.records import ErrorRecord
    from selfheal.domain.validation_report import ValidationReport
    from selfheal.ports import ArtifactStore, CodeHost, ErrorStore, FixModel, SourceRepository
    from selfheal.services.workflow.deps import PullRequestDraft, WorkflowServices


def build_model(spec: str, settings: Settings) -> FixModel:
    """The ``FixModel`` for ``spec``: the offline rules fixer, or a provider composed by
    ``selfheal.compose.models``."""
    if spec.strip().lower() == "rules":
        from selfheal.fixers.rules import RulesFixer

        return RulesFixer()
    from selfheal.compose.models import build_model as build_provider_model

    return build_provider_model(spec, settings)


def _context_builder(settings: Settings, store: object = None
                     ) -> Callable[[ErrorRecord, SourceRepository, str], FixContext]:
    from selfheal.domain.context import build_context
    from selfheal.ports import InputStore

    inputs = store if isinstance(store, InputStore) else None

    def build(record: ErrorRecord, source: SourceRepository, revision: str) -> FixContext:
        # The recorded failing inputs become the replay validation runs (selfheal.domain.reproduce).
        recorded = inputs.inputs(record.fingerprint) if inputs is not None else []
        return build_context(record, source, revision, settings=settings, inputs=recorded)

    return build


def _prompt_builder(settings: Settings) -> Callable[[FixContext, int, str | None], Prompt]:
    from selfheal.domain.prompt import build_prompt

    def build(context: FixContext, round_no: int, feedback: str | None) -> Prompt:
        return build_prompt(context, round_no, feedback, settings)

    return build


def _validator(settings: Settings, source: SourceRepository
               ) -> Callable[[FixContext, EditProposal, str, bytes | None], ValidationReport]:
    from selfheal.validation.service import validate_candidate

    def validate(context: FixContext, proposal: EditProposal, revision: str,
                 tree: bytes | None = None) -> ValidationReport:
        repo = source
        if tree is not None:
            from selfheal.adapters.tree_snapshot import SnapshotSource

            repo = SnapshotSource(tree, revision, settings.base_branch or "main")
        return validate_candidate(repo, revision, context, proposal, settings)

    return validate


def _pr_composer(settings: Settings) -> Callable[[PullRequestDraft], tuple[str, str]]:
    from selfheal.domain.edit_format import apply_proposal
    from selfheal.domain.pr_body import PrBodyInput, pr_title, render_pr_body

    def compose(draft: PullRequestDraft) -> tuple[str, str]:
        updated = apply_proposal(draft.context.files, draft.proposal)
        changed = {p for p, t in updated.items() if draft.context.files.get(p) != t}
        attempt = next((a for a in draft.record.attempts if a.number == draft.attempt), None)
        body = render_pr_body(PrBodyInput(
            record=draft.record, report=draft.report, root_cause=draft.proposal.root_cause,
            summary=draft.proposal.summary,
            original={p: draft.context.files.get(p, "") for p in changed},
            updated={p: updated[p] for p in changed}, model_id=draft.model_id or "",
            tokens_in=attempt.tokens_in if attempt else 0, tokens_out=attempt.tokens_out if attempt else 0,
            cost_usd=attempt.cost_usd if attempt else 0.0, attempt=draft.attempt,
            execution=draft.execution, redact_patterns=list(settings.redact_patterns)))
        return pr_title(draft.record, draft.proposal.summary), body

    return compose


def build_services(settings: Settings, *, store: ErrorStore, artifacts: ArtifactStore,
                   source: SourceRepository, code_host: CodeHost, model: FixModel,
                   snapshot_tree: bool = False) -> WorkflowServices:
    """``WorkflowServices`` from its parts, with the callables bound to ``settings``."""
    from selfheal.services.workflow.deps import WorkflowServices

    return WorkflowServices(
        settings=settings, store=store, artifacts=artifacts, source=source, code_host=code_host,
        model=model, build_context=_context_builder(settings, store), build_prompt=_prompt_builder(settings),
        validate=_validator(settings, source), compose_pr=_pr_composer(settings),
        snapshot_tree=snapshot_tree)
