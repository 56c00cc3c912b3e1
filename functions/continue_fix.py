"""Lambda handler of the ``ContinueFix`` state (the catalogue entry this module's name derives
from): validate its input model, run its step, return the output payload. The step is in
``selfheal.services.workflow``; the services come from ``selfheal.compose.aws``."""

from __future__ import annotations

from selfheal.compose.aws import handler_for_module

handler = handler_for_module(__name__)
