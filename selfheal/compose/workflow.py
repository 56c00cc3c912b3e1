"""Composition of the fix workflow in local mode: SQLite store, a folder of artifacts, a local git
repository (branch + PR record) or a code host API, the chosen model, the validation service, and
moto's Step Functions interpreter running the ASL with the step handlers in-process. (AWS mode
is ``selfheal.compose.aws``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfheal.compose import aws
from selfheal.compose.services import build_model, build_services
from selfheal.errors import ConfigurationError
from selfheal.settings import Settings

if TYPE_CHECKING:
    from selfheal.adapters.sfn_local import LocalWorkflowEngine
    from selfheal.services.workflow.deps import WorkflowServices
    from selfheal.services.workflow.runner import FixOutcome, Progress

ARTIFACTS_DIR = "artifacts"

__all__ = ["ARTIFACTS_DIR", "LocalWorkflow", "artifacts_root", "build_local_engine", "build_local_services",
           "build_model", "local_workflow", "redrive_fix", "run_fix"]


def build_local_services(settings: Settings, model_spec: str | None = None) -> WorkflowServices:
    """Everything the steps need in local mode, from ``settings`` (``repo`` is required)."""
    from selfheal.adapters.artifacts_fs import FsArtifactStore
    from selfheal.compose.source import build_source
    from selfheal.compose.store import build_local_store

    if settings.repo is None and not getattr(settings, "repo_url", None):
        raise ConfigurationError("no repository: pass --repo PATH or set SELFHEAL_REPO")
    source, host = build_source(settings)
    return build_services(settings, store=build_local_store(settings),
                          artifacts=FsArtifactStore(settings.home / ARTIFACTS_DIR), source=source,
                          code_host=host, model=build_model(model_spec or settings.model, settings))


# --- the local engine and runs ---------------------------------------------------------------

def build_local_engine(settings: Settings) -> LocalWorkflowEngine:
    """moto's interpreter running ``statemachine/fix_error.asl.json`` with our handlers."""
    from selfheal.adapters.sfn_local import LocalWorkflowEngine
    from selfheal.services.workflow.catalogue import STATE_NAMES

    handlers = {s: aws.state_handler(s) for s in STATE_NAMES}
    return LocalWorkflowEngine(handlers, retry_scale=settings.retry_interval_scale)


@dataclass
class LocalWorkflow:
    """Services installed for the handlers plus the running engine."""

    services: WorkflowServices
    engine: LocalWorkflowEngine

    def run(self, fingerprint: str, *, payload: dict[str, Any] | None = None,
            progress: Progress | None = None, timeout: float = 3600.0, force: bool = False) -> FixOutcome:
        from selfheal.adapters.lease_files import Lease
        from selfheal.compose.store import build_policy
        from selfheal.services.workflow.runner import run_execution

        home = self.services.settings.home
        return run_execution(self.services.store, self.engine, fingerprint, payload=payload,
                             progress=progress, timeout=timeout, force=force,
                             policy=build_policy(self.services.settings),
                             artifacts=self.services.artifacts,
                             lease=lambda fp, number: Lease(home, fp, number))


@contextmanager
def local_workflow(settings: Settings, model_spec: str | None = None,
                   services: WorkflowServices | None = None) -> Iterator[LocalWorkflow]:
    """Build (or take) the services, install them for the handlers, open the engine."""
    svc = services or build_local_services(settings, model_spec)
    aws.configure(steps=svc)
    engine = build_local_engine(settings)
    try:
        with engine:
            yield LocalWorkflow(svc, engine)
    finally:
        aws.configure(steps=None)


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
