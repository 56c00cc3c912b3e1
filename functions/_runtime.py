"""Where the step handlers get their services.

In Lambda: built once per container from environment variables by
``selfheal.compose.workflow.build_aws_services`` (lazily, on first use). Locally: the engine
installs the services built by the local composition with ``install``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

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

