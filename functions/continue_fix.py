"""Lambda handler of the ``ContinueFix`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.continuation.continue_fix``; the shared
validate -> step -> output path is ``selfheal.compose.runtime.state_handler``)."""

from __future__ import annotations

from selfheal.compose.runtime import state_handler

STATE = "ContinueFix"

handler = state_handler(STATE)
