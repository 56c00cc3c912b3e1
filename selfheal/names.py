"""Names that cross a boundary, defined once: environment variables the SAM template sets, the
metric namespace and service, artifact names, and execution names.

Everything else imports these; tests hold ``template.yaml``, the ASL and the docs against them
(``tests/integration/test_template_names.py``). The state names live in the state catalogue
(``selfheal.services.workflow.catalogue``), next to what each state runs.
"""

from __future__ import annotations

from enum import StrEnum

# --- environment variables (AWS mode; set by template.yaml) -----------------------------------
ENV_TABLE_NAME = "SELFHEAL_TABLE_NAME"  # the error table
ENV_ARTIFACT_BUCKET = "SELFHEAL_ARTIFACT_BUCKET"  # the artifacts bucket
ENV_PARAMETER_PREFIX = "SELFHEAL_PARAMETER_PREFIX"  # SSM prefix of what bin/configure stored
ENV_STATE_MACHINE_ARN = "SELFHEAL_STATE_MACHINE_ARN"  # the fix workflow
ENV_QUEUE_URL = "SELFHEAL_QUEUE_URL"  # the fix-request queue
ENV_HOME = "SELFHEAL_HOME"  # Lambda's writable place (/tmp/selfheal)
ENV_SFN_ENDPOINT_URL = "SELFHEAL_SFN_ENDPOINT_URL"  # Step Functions Local instead of AWS
ENV_WORKFLOW_TYPE = "SELFHEAL_WORKFLOW_TYPE"  # EXPRESS | STANDARD: how long one execution may run
ENV_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # read by Powertools Metrics
ENV_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"  # read by Powertools Logger and Metrics

# --- telemetry ---------------------------------------------------------------------------------
# The CloudWatch namespace every EMF metric goes to, and the ``service`` dimension (the cost alarm
# and the dashboard read exactly these).
METRIC_NAMESPACE = "Selfheal"
METRIC_SERVICE = "selfheal"


class Artifact(StrEnum):
    """Names of the artifacts a step stores (``FixState.artifacts`` and ``StepRecord.artifacts``
    keys). A ``StrEnum``: equal to, and serialised as, the plain string."""

    CONTEXT = "context"
    TREE = "tree"  # the source tree at the base revision (AWS: ValidatePatch has no code host)
    PROMPT = "prompt"
    REPLY = "reply"
    PROPOSAL = "proposal"
    VALIDATION = "validation"
    FEEDBACK = "feedback"
    SUGGESTED = "suggested"  # the last valid but unverified proposal (kept when the error abstains)
    SUGGESTED_PATCH = "suggested_patch"  # on RecordAbstain: that proposal as a unified diff
    COMMIT = "commit"
    PULL_REQUEST = "pr"
    INPUT = "input"  # a step's own input payload (a re-drive resumes from it)
    REDRIVE_REQUEST = "redrive_request"  # on FetchSource: the queued re-drive it resumed
    REQUEST = "request"  # on the re-drive marker step: the re-drive request


# The SAM ``DefinitionSubstitutions`` key of the fix queue's URL (the ASL's Requeue task).
QUEUE_URL_SUBSTITUTION = "FixQueueUrl"


def function_arn_substitution(state: str) -> str:
    """The SAM ``DefinitionSubstitutions`` key (``${...}`` in the ASL) of a Task state's function."""
    return f"{state}FunctionArn"


def execution_name(fingerprint: str, attempt: int) -> str:
    """The name of attempt ``attempt``'s execution: ``<fingerprint[:12]>-<attempt>``."""
    return f"{fingerprint[:12]}-{attempt}"
