"""Optional helper for Lambda services: log the event and the traceback together in one record.

selfheal pairs a traceback with the event logged in the same invocation (see
``selfheal.domain.capture``); this decorator makes that pairing certain. When the handler raises,
it writes ONE JSON line with the request id, the event (``selfheal_event``) and the formatted
traceback (``exception``), then re-raises so Lambda still reports the failure::

    from selfheal.lambda_helper import lambda_helper

    @lambda_helper
    def handler(event, context):
        ...

Standard library only, so it costs nothing at cold start (copy this file into a service that
does not depend on selfheal). The record goes to stdout, which Lambda sends to CloudWatch as one
log event; the runtime's own error report for the re-raised exception follows it.
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from typing import IO, Any, TypeVar

HELPER_FIELD = "selfheal_event"  # = selfheal.domain.capture.HELPER_FIELD (kept import-free here)

F = TypeVar("F", bound=Callable[..., Any])


def lambda_helper(handler: F | None = None, *, stream: IO[str] | None = None) -> Any:
    """Decorate ``handler(event, context)``; on an exception log event + traceback, then re-raise.

    ``stream``: where the record goes (default: ``sys.stdout`` at call time).
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return func(event, context, *args, **kwargs)
            except Exception as exc:
                record = {
                    "level": "ERROR",
                    "message": f"unhandled {type(exc).__name__} in {func.__module__}.{func.__qualname__}",
                    "requestId": str(getattr(context, "aws_request_id", "") or ""),
                    HELPER_FIELD: event,
                    # From the handler down, as the Lambda runtime prints it: this wrapper's
                    # frame is left out, so a copy of this file in the service is not the entry.
                    "exception": "".join(traceback.format_exception(
                        type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None)),
                }
                out = stream or sys.stdout
                out.write(json.dumps(record, default=str) + "\n")
                out.flush()
                raise

        return wrapper  # type: ignore[return-value]

    return decorate(handler) if handler is not None else decorate
