"""Composition of the fix workflow: the one place that knows which adapters exist.

Local mode: SQLite store, a folder of artifacts, a local git repository (branch + PR record),
the chosen model, the validation service, and moto's Step Functions interpreter running the ASL
with the handlers in-process. AWS mode (``build_aws_services``, used by the step Lambdas): the
DynamoDB table, the S3 bucket and the code host named by environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfheal.errors import ConfigurationError
from selfheal.settings import Settings, load_settings

if TYPE_CHECKING:
    from selfheal.adapters.sfn_local import LocalWorkflowEngine
    from selfheal.domain.fixing import EditProposal, FixContext, Prompt
    from selfheal.domain.records import ErrorRecord
    from selfheal.domain.validation_report import ValidationReport
    from selfheal.ports import CodeHost, FixModel, SourceRepository
    from selfheal.services.workflow.deps import PullRequestDraft, WorkflowServices
    from selfheal.services.workflow.runner import FixOutcome, Progress

ARTIFACTS_DIR = "artifacts"
MODEL_SPECS = "rules | bedrock[:MODEL_ID] | anthropic:MODEL | openai:BASE_URL#MODEL"


# --- the model ---------------------------------------------------------------------------------

def build_model(spec: str, settings: Settings) -> FixModel:
    """The ``FixModel`` for ``spec`` (``MODEL_SPECS``): the offline rules fixer, or a provider
    composed by ``selfheal.compose.models``."""
    if spec.strip().lower() == "rules":
        from selfheal.fixers.rules import RulesFixer

        return RulesFixer()
    from selfheal.compose.models import build_model as build_provider_model

    return build_provider_model(spec, settings)


# --- the services of the steps ---------------------------------------------------------------

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
               ) -> Callable[[FixContext, EditProposal, str], ValidationReport]:
    from selfheal.validation.service import validate_candidate

    def validate(context: FixContext, proposal: EditProposal, revision: str) -> ValidationReport:
        return validate_candidate(source, revision, context, proposal, settings)

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


def build_local_services(settings: Settings, model_spec: str | None = None) -> WorkflowServices:
    """Everything the steps need in local mode, from ``settings`` (``repo`` is required)."""
    from selfheal.adapters.artifacts_fs import FsArtifactStore
    from selfheal.compose.source import build_source
    from selfheal.compose.store import build_local_store
    from selfheal.services.workflow.deps import WorkflowServices

    if settings.repo is None and not getattr(settings, "repo_url", None):
        raise ConfigurationError("no repository: pass --repo PATH or set SELFHEAL_REPO")
    source, host = build_source(settings)
    store = build_local_store(settings)
    return WorkflowServices(
        settings=settings, store=store,
        artifacts=FsArtifactStore(settings.home / ARTIFACTS_DIR), source=source, code_host=host,
        model=build_model(model_spec or settings.model, settings),
        build_context=_context_builder(settings, store), build_prompt=_prompt_builder(settings),
        validate=_validator(settings, source), compose_pr=_pr_composer(settings))


def build_aws_services(env: Mapping[str, str] | None = None) -> WorkflowServices:
    """The step Lambdas' services, from the environment the SAM template sets
    (``SELFHEAL_TABLE_NAME``, ``SELFHEAL_ARTIFACT_BUCKET``, ``SELFHEAL_MODEL``, ...)."""
    from selfheal.adapters.artifacts_s3 import S3ArtifactStore
    from selfheal.compose.store import build_dynamodb_store
    from selfheal.services.workflow.deps import WorkflowServices

    env = os.environ if env is None else env
    settings = load_settings(aws_explicit_settings(env), env=env)
    table, bucket = env.get("SELFHEAL_TABLE_NAME"), env.get("SELFHEAL_ARTIFACT_BUCKET")
    if not table or not bucket:
        raise ConfigurationError("SELFHEAL_TABLE_NAME and SELFHEAL_ARTIFACT_BUCKET must be set")
    source, host = _aws_code_host(settings, env)
    store = build_dynamodb_store(table)
    return WorkflowServices(
        settings=settings, store=store, artifacts=S3ArtifactStore(bucket),
        source=source, code_host=host, model=build_model(settings.model, settings),
        build_context=_context_builder(settings, store), build_prompt=_prompt_builder(settings),
        validate=_validator(settings, source), compose_pr=_pr_composer(settings))


def aws_explicit_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """What ``bin/configure`` stored under ``SELFHEAL_PARAMETER_PREFIX`` (repository, code host,
    pinned host keys, base branch, model) as explicit settings: they win over the environment."""
    prefix = env.get("SELFHEAL_PARAMETER_PREFIX")
    if not prefix:
        return {}
    from selfheal.adapters.secrets_ssm import SsmSecrets
    from selfheal.compose.aws_parameters import settings_from_parameters

    explicit = settings_from_parameters(SsmSecrets(prefix=prefix, region=env.get("AWS_REGION")))
    return {**explicit, "ssm_prefix": prefix}


def _aws_code_host(settings: Settings, env: Mapping[str, str]) -> tuple[SourceRepository, CodeHost]:
    from selfheal.compose.source import build_aws_source

    return build_aws_source(settings, env)


# --- the local engine and runs ---------------------------------------------------------------

def build_local_engine(settings: Settings) -> LocalWorkflowEngine:
    """moto's interpreter running ``statemachine/fix_error.asl.json`` with our handlers."""
    from selfheal.adapters.sfn_local import LocalWorkflowEngine
    from selfheal.compose.runtime import state_handler
    from selfheal.services.workflow.registry import HANDLER_MODULES

    handlers = {s: state_handler(s) for s in HANDLER_MODULES}
    return LocalWorkflowEngine(handlers, retry_scale=settings.retry_interval_scale)


@dataclass
class LocalWorkflow:
    """Services installed for the handlers plus the running engine."""

    services: WorkflowServices
    engine: LocalWorkflowEngine

    def run(self, fingerprint: str, *, payload: dict[str, Any] | None = None,
            progress: Progress | None = None, timeout: float = 3600.0, force: bool = False) -> FixOutcome:
        from selfheal.services.workflow.runner import run_execution

        return run_execution(self.services.store, self.engine, fingerprint, payload=payload,
                             progress=progress, timeout=timeout, force=force)


@contextmanager
def local_workflow(settings: Settings, model_spec: str | None = None,
                   services: WorkflowServices | None = None) -> Iterator[LocalWorkflow]:
    """Build (or take) the services, install them for the handlers, open the engine."""
    from selfheal.compose import runtime

    svc = services or build_local_services(settings, model_spec)
    runtime.install(svc)
    engine = build_local_engine(settings)
    try:
        with engine:
            yield LocalWorkflow(svc, engine)
    finally:
        runtime.install(None)


def run_fix(settings: Settings, fingerprint: str, model_spec: str | None = None, *,
            progress: Progress | None = None, timeout: float = 3600.0, force: bool = False) -> FixOutcome:
    """Run one fix of ``fingerprint`` locally to its end (PR_OPEN, ABSTAINED or FAILED).
    ``force`` restarts an error left FIXING by a killed run."""
    with local_workflow(settings, model_spec) as wf:
        return wf.run(fingerprint, progress=progress, timeout=timeout, force=force)


def redrive_fix(settings: Settings, fingerprint: str, from_state: str | None = None,
                model_spec: str | None = None, *, progress: Progress | None = None,
                timeout: float = 3600.0) -> FixOutcome:
    """Re-run a FAILED/ABSTAINED fix locally from ``from_state`` (default: the failed state),
    reusing the recorded artifacts of the states before it."""
    from selfheal.services.workflow.runner import redrive_payload

    with local_workflow(settings, model_spec) as wf:
        record = wf.services.store.get(fingerprint)
        if record is None:
            from selfheal.errors import ErrorNotFound

            raise ErrorNotFound(f"no error with fingerprint {fingerprint}")
        payload = redrive_payload(record, wf.services.artifacts, from_state)
        return wf.run(fingerprint, payload=payload, progress=progress, timeout=timeout)


def artifacts_root(settings: Settings) -> Path:
    return settings.home / ARTIFACTS_DIR
