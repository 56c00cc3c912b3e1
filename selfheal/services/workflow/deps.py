"""What the workflow's steps need, as one container built by a composition root.

Ports (``ErrorStore``, ``ArtifactStore``, ``SourceRepository``, ``CodeHost``, ``FixModel``) come
from ``selfheal.ports``; the four callables below are the workflow's view of the fix-generation,
validation and publishing services, adapted to these signatures by ``selfheal.compose.services``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from selfheal.domain.fixing import EditProposal, FixContext, Prompt
from selfheal.domain.records import ErrorRecord
from selfheal.domain.validation_report import ValidationReport
from selfheal.ports import ArtifactStore, CodeHost, ErrorStore, FixModel, SourceRepository
from selfheal.services.workflow.recorder import StepRecorder
from selfheal.settings import Settings

# Fault context of a record from the source at a revision (redacted; raises ``SourceNotFound``
# when no in-app frame maps to a file).
ContextBuilder = Callable[[ErrorRecord, SourceRepository, str], FixContext]
# The prompt of repair round N (1-based) with the previous round's feedback.
PromptBuilder = Callable[[FixContext, int, "str | None"], Prompt]
# Run the gates on a proposal against the tree at a revision (from the stored tree snapshot when
# one is given, else from the source repository).
PatchValidator = Callable[[FixContext, EditProposal, str, "bytes | None"], ValidationReport]


class PullRequestDraft(BaseModel):
    """Everything the pull request text is written from."""

    record: ErrorRecord
    context: FixContext
    proposal: EditProposal
    report: ValidationReport
    branch: str
    base: str
    execution: str | None = None
    model_id: str | None = None
    attempt: int = 1


# Title and markdown body of the pull request.
PullRequestComposer = Callable[[PullRequestDraft], tuple[str, str]]


@dataclass
class WorkflowServices:
    """The services one workflow run uses (see module docstring)."""

    settings: Settings
    store: ErrorStore
    artifacts: ArtifactStore
    source: SourceRepository
    code_host: CodeHost
    model: FixModel
    build_context: ContextBuilder
    build_prompt: PromptBuilder
    validate: PatchValidator
    compose_pr: PullRequestComposer
    # FetchSource also stores the tree it resolved (AWS: ValidatePatch has no code host)
    snapshot_tree: bool = False

    @property
    def recorder(self) -> StepRecorder:
        return StepRecorder(self.store, self.artifacts)
