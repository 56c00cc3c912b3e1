"""Where the step handlers get their services, and the handlers the local engine calls.

In Lambda (``functions/*.py``): built once per container from environment variables by
``selfheal.compose.workflow.build_aws_services`` (lazily, on first use). Locally: the local
composition installs its services with ``install``. ``state_handler`` is the same validate ->
step -> output path as ``functions/<state>.py``, importable from the installed package (the
``functions`` folder ships only in the Lambda bundle).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfheal.services.workflow.deps import WorkflowServices

_lock = threading.Lock()
_override: WorkflowServices | None = None
_from_env: WorkflowServices | None = None


def install(services: WorkflowServices | None) -> None:
    """Use ``services`` for every handler in this process (``None`` removes the override)."""
    global _override
    _override = services


def services() -> WorkflowServices:
    """The installed services, else the AWS services built from the environment (cached)."""
    global _from_env
    if _override is not None:
        return _override
    with _lock:
        if _from_env is None:
            from selfheal.compose.workflow import build_aws_services

            _from_env = build_aws_services()
        return _from_env


def state_handler(state: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """``handler(event, context)`` of ``state``: validate its input model, run its step,
    return the output model."""
    from selfheal.services.workflow.models import parse_input
    from selfheal.services.workflow.registry import STEP_FUNCTIONS

    step = STEP_FUNCTIONS[state]

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return step(services(), parse_input(state, event)).to_payload()

    handler.__name__ = f"{state}_handler"
    return handler
