"""Lambda handler of the ``BuildPrompt`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.build_prompt``; the shared
validate -> step -> output path is ``selfheal.compose.runtime.state_handler``)."""

from __future__ import annotations

from selfheal.compose.runtime import state_handler

STATE = "BuildPrompt"

handler = state_handler(STATE)
