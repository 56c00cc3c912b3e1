"""The AWS composition root: what each Lambda of ``template.yaml`` is built from.

One builder per Lambda reads the environment the template sets (names in ``selfheal.names``);
one cached getter per Lambda builds it once per container; one ``configure(...)`` replaces any of
them (tests, and the local engine, which installs its own step services). Each step Lambda builds
only what its catalogue entry uses (``selfheal.services.workflow.catalogue``): RecordFailure never
touches SSM or the code host, ValidatePatch reads the tree FetchSource stored instead of holding
the token. Anything withheld raises ``ConfigurationError`` when touched, so a step that starts
using more than the catalogue says fails its tests before it fails on AWS with AccessDenied.

    from selfheal.compose import aws
    aws.configure(start_fix=FixStarter(store, engine, Policy()))   # a test
    aws.fix_starter()                                               # the start_fix Lambda
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from selfheal.errors import ConfigurationError
from selfheal.names import (
    ENV_ARTIFACT_BUCKET,
    ENV_METRICS_NAMESPACE,
    ENV_PARAMETER_PREFIX,
    ENV_QUEUE_URL,
    ENV_SERVICE_NAME,
    ENV_TABLE_NAME,
    METRIC_NAMESPACE,
    METRIC_SERVICE,
)
from selfheal.settings import load_settings

# The workflow modules (catalogue, steps) are imported inside the functions that need them: the
# ingest and dispatch Lambdas load this module on every cold start and never run a step.

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

    from selfheal.ports import CodeHost, ErrorStore, FixModel, SourceRepository
    from selfheal.services.dispatch import FixStarter
    from selfheal.services.ingest import IngestService
    from selfheal.services.policy import Policy
    from selfheal.services.workflow.catalogue import State
    from selfheal.services.workflow.deps import WorkflowServices

T = TypeVar("T")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class DispatchDeps:
    """The dispatch Lambda's: the enqueue policy, an SQS client and the fix queue."""

    policy: Policy
    sqs: Any
    queue_url: str


@dataclass
class PrSyncDeps:
    """The PR-sync Lambda's: the store and the code host."""

    store: ErrorStore
    host: CodeHost


# --- configuration and the cached getter -----------------------------------------------------

_UNSET: Any = object()
_overrides: dict[str, Any] = {}
_built: dict[str, Any] = {}
_lock = threading.RLock()


def configure(*, ingest: IngestService | None = _UNSET, dispatch: DispatchDeps | None = _UNSET,
              start_fix: FixStarter | None = _UNSET, sync: PrSyncDeps | None = _UNSET,
              steps: WorkflowServices | None = _UNSET) -> None:
    """Use the given dependencies instead of building them from the environment; ``None``
    removes an override (the next use builds from the environment). ``steps`` serves every
    step handler. Calling it also forgets what was built from the environment."""
    given = {"ingest": ingest, "dispatch": dispatch, "start_fix": start_fix, "sync": sync, "steps": steps}
    with _lock:
        for key, value in given.items():
            if value is None:
                _overrides.pop(key, None)
            elif value is not _UNSET:
                _overrides[key] = value
        _built.clear()


def _get(key: str, build: Callable[[], T], override: str | None = None) -> T:
    with _lock:
        if (override or key) in _overrides:
            return cast(T, _overrides[override or key])
        if key not in _built:
            _built[key] = build()
        return cast(T, _built[key])


def ingest_service() -> IngestService:
    return _get("ingest", build_ingest)


def dispatch_deps() -> DispatchDeps:
    return _get("dispatch", build_dispatch)


def fix_starter() -> FixStarter:
    return _get("start_fix", build_start_fix)


def pr_sync_deps() -> PrSyncDeps:
    return _get("sync", build_pr_sync)


def step_services(state_name: str) -> WorkflowServices:
    return _get(f"step:{state_name}", lambda: build_step(state_name), override="steps")


def state_handler(state_name: str) -> Handler:
    """``handler(event, context)`` of a Task state: validate its input model, run its step inside
    its recorder step, return the output payload (``functions/<state>.py`` and the local engine)."""
    from selfheal.services.workflow.catalogue import run_state, state

    state(state_name)  # a KeyError now for a name that is not a Task state

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from selfheal.domain.deadline import lambda_seconds_left, step_deadline

        # The function's Timeout ends the step whatever it is doing: long work fits into it.
        with step_deadline(lambda_seconds_left(context)):
            return run_state(state_name, step_services(state_name), event)

    handler.__name__ = f"{state_name}_handler"
    return handler


def state_for_module(module: str) -> State:
    """The catalogue entry whose handler is ``module`` (``functions.<state>``)."""
    from selfheal.services.workflow.catalogue import STATES

    entry = next((s for s in STATES if s.handler_module == module), None)
    if entry is None:
        raise ConfigurationError(f"{module} is not the handler module of a Task state")
    return entry


def handler_for_module(module: str) -> Handler:
    """The state handler of ``functions/<state>.py``, from its module name."""
    return state_handler(state_for_module(module).name)


def logger() -> Logger:
    """Powertools ``Logger`` with the service the template sets (the same default as ``metrics``)."""
    from aws_lambda_powertools import Logger

    return Logger(service=os.environ.get(ENV_SERVICE_NAME) or METRIC_SERVICE)


def metrics() -> Metrics:
    """Powertools ``Metrics`` in the namespace and service the template sets (the defaults are
    the same names, for the local engine and tests, where Powertools would refuse to flush)."""
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=os.environ.get(ENV_METRICS_NAMESPACE) or METRIC_NAMESPACE,
                   service=os.environ.get(ENV_SERVICE_NAME) or METRIC_SERVICE)


# --- one builder per Lambda ----------------------------------------------------------------

def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise ConfigurationError(f"{name} must be set")
    return value


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def build_ingest(env: Mapping[str, str] | None = None) -> IngestService:
    """IngestFunction: the ingest service on the error table."""
    from selfheal.compose.store import build_dynamodb_store, build_ingest_service

    env = _env(env)
    return build_ingest_service(load_settings(env=env), build_dynamodb_store(_require(env, ENV_TABLE_NAME)))


def build_dispatch(env: Mapping[str, str] | None = None) -> DispatchDeps:
    """DispatchFunction: the policy, SQS and the fix queue."""
    import boto3

    from selfheal.compose.store import build_policy

    env = _env(env)
    return DispatchDeps(build_policy(load_settings(env=env)), boto3.client("sqs"),
                        _require(env, ENV_QUEUE_URL))


def build_start_fix(env: Mapping[str, str] | None = None) -> FixStarter:
    """StartFixFunction: the start protocol on the table and the deployed state machine."""
    from selfheal.compose.engine import build_aws_engine
    from selfheal.compose.store import build_dynamodb_store, build_policy
    from selfheal.services.dispatch import FixStarter

    env = _env(env)
    return FixStarter(build_dynamodb_store(_require(env, ENV_TABLE_NAME)), build_aws_engine(env),
                      build_policy(load_settings(env=env)))


def build_pr_sync(env: Mapping[str, str] | None = None) -> PrSyncDeps:
    """SyncPullRequestsFunction: the store and the code host (no model, no artifacts)."""
    from selfheal.compose.source import build_aws_source
    from selfheal.compose.store import build_dynamodb_store

    env = _env(env)
    table = _require(env, ENV_TABLE_NAME)
    settings = load_settings(aws_explicit_settings(env), env=env)
    _, host = build_aws_source(settings, env)
    return PrSyncDeps(build_dynamodb_store(table), host)


def build_step(state_name: str, env: Mapping[str, str] | None = None) -> WorkflowServices:
    """A step Lambda: the table, the bucket, and only what the state's catalogue entry uses."""
    from selfheal.adapters.artifacts_s3 import S3ArtifactStore
    from selfheal.compose.services import build_model, build_services
    from selfheal.compose.store import build_dynamodb_store
    from selfheal.services.workflow.catalogue import state

    env = _env(env)
    uses = state(state_name).uses
    table, bucket = _require(env, ENV_TABLE_NAME), _require(env, ENV_ARTIFACT_BUCKET)
    settings = load_settings(aws_explicit_settings(env) if "parameters" in uses else {}, env=env)
    if uses & {"source", "code_host"}:
        from selfheal.compose.source import build_aws_source

        source, host = build_aws_source(settings, env)
    else:
        source = cast("SourceRepository", Withheld("the source repository", state_name))
        host = cast("CodeHost", Withheld("the code host", state_name))
    model = (build_model(settings.model, settings) if "model" in uses
             else cast("FixModel", Withheld("the model", state_name)))
    return build_services(settings, store=build_dynamodb_store(table), artifacts=S3ArtifactStore(bucket),
                          source=source, code_host=host, model=model, snapshot_tree=True)


def aws_explicit_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """What ``bin/configure`` stored under ``SELFHEAL_PARAMETER_PREFIX`` (repository, code host,
    pinned host keys, base branch, model) as explicit settings: they win over the environment.
    The secrets are not read here: only the code host reads the token, when it is built."""
    prefix = env.get(ENV_PARAMETER_PREFIX)
    if not prefix:
        return {}
    from selfheal.adapters.secrets_ssm import SsmSecrets
    from selfheal.compose.aws_parameters import settings_from_parameters

    explicit = settings_from_parameters(SsmSecrets(prefix=prefix, region=env.get("AWS_REGION")))
    return {**explicit, "ssm_prefix": prefix}


class Withheld:
    """Stands for a service a Lambda is built without; touching it is a configuration error."""

    def __init__(self, what: str, state_name: str) -> None:
        self._what = what
        self._state = state_name

    def __getattr__(self, name: str) -> Any:
        raise ConfigurationError(f"{self._state} is built without {self._what} (least privilege: its "
                                 "catalogue entry does not use it, and its role cannot reach it)")

