"""Lambda handler of the ``FetchSource`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.fetch_source``; the shared
validate -> step -> output path is ``selfheal.compose.runtime.state_handler``)."""

from __future__ import annotations

from selfheal.compose.runtime import state_handler

STATE = "FetchSource"

handler = state_handler(STATE)
