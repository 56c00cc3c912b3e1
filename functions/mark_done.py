"""Lambda handler of the ``MarkDone`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.mark_done``; the shared
validate -> step -> output path is ``selfheal.compose.runtime.state_handler``)."""

from __future__ import annotations

from selfheal.compose.runtime import state_handler

STATE = "MarkDone"

handler = state_handler(STATE)
