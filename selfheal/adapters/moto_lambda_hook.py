"""The one place that reaches into moto's internals (pinned: moto 5.2.5).

moto's Step Functions interpreter (``execute_state_machine``) invokes Lambda tasks through its
Lambda backend; with ``use_docker: False`` every invocation lands in
``LambdaSimpleBackend.invoke``, which only echoes. ``install`` replaces that one method with a
dispatcher to our handler functions and reports failures the way real Lambda does
(``x-amz-function-error: Unhandled`` + ``{"errorType": <class name>, ...}``), so ASL
``ErrorEquals`` on our error class names works. It also scales the interpreter's Retry sleeps
(ASL only allows whole seconds >= 1, tests want milliseconds) and reuses one boto3 Lambda
client per region instead of building one per task invocation.

``tests/integration/test_engine_hook.py`` pins this behaviour; bump it with moto.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

import moto

from selfheal.errors import ConfigurationError

PINNED_MOTO = "5.2.5"

# function name (last part of the ARN) -> handler(event, context) -> result
Handler = Callable[[dict[str, Any], Any], Any]

_lock = threading.Lock()
_handlers: dict[str, Handler] = {}
_retry_scale = 1.0
_installed = False


class LambdaContext:
    """The slice of the Lambda context object our handlers may read."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.aws_request_id = f"local-{time.monotonic_ns()}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _error_payload(exc: BaseException) -> bytes:
    return json.dumps({
        "errorType": type(exc).__name__,
        "errorMessage": str(exc)[:4000],
        "stackTrace": traceback.format_tb(exc.__traceback__)[-5:],
    }).encode()


def dispatch(function_name: str, body: Any, response_headers: dict[str, Any]) -> bytes:
    """Run the registered handler for ``function_name`` (a name or an ARN) on ``body``."""
    name = str(function_name).rsplit(":", 1)[-1]
    handler = _handlers.get(name)
    if handler is None:
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorType": "Lambda.ResourceNotFoundException",
                           "errorMessage": f"no local handler for function {name!r}"}).encode()
    try:
        raw = body.decode() if isinstance(body, bytes) else (body or "{}")
        event = json.loads(raw)
        result = handler(event, LambdaContext(name))
        return json.dumps(result).encode()
    except Exception as exc:  # noqa: BLE001 - reported to the interpreter like Lambda does
        response_headers["x-amz-function-error"] = "Unhandled"
        return _error_payload(exc)


def _invoke(self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
            response_headers: Any) -> bytes:
    return dispatch(function_name, body, response_headers)


def _scaled_sleep(seconds: float) -> None:
    time.sleep(max(0.0, seconds) * _retry_scale)


_clients: dict[tuple[str, str, bool, str], Any] = {}


def _cached_client_factory(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto builds a new boto3 Lambda client for every task invocation (~10 ms each, most of a
    trivial step's cost); one client per region is enough (clients are thread safe)."""
    from moto.core.models import botocore_stubber

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # A moto server's interpreter calls Lambda at localhost:$MOTO_PORT: one client per port.
        key = (region, service, bool(botocore_stubber.enabled), os.environ.get("MOTO_PORT", ""))
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = original(region=region, service=service,
                                              state_credentials=state_credentials)
        return client

    client_for.original = original  # type: ignore[attr-defined]
    return client_for


def install(handlers: dict[str, Handler], retry_scale: float = 1.0) -> None:
    """Route moto Lambda invocations of ``handlers``' function names to them (additive)."""
    global _installed, _retry_scale
    if moto.__version__ != PINNED_MOTO:
        raise ConfigurationError(
            f"the local workflow engine is pinned to moto {PINNED_MOTO}, found {moto.__version__}")
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    with _lock:
        _handlers.update(handlers)
        _retry_scale = retry_scale
        if not _installed:
            LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
            # retrier_decl does ``import time`` and calls ``time.sleep(interval)``.
            retrier_decl.time = types.SimpleNamespace(sleep=_scaled_sleep)  # type: ignore[assignment]
            lambda_eval_utils.boto_client_for = _cached_client_factory(lambda_eval_utils.boto_client_for)
            _installed = True


def set_retry_scale(scale: float) -> None:
    global _retry_scale
    _retry_scale = scale


def registered() -> dict[str, Handler]:
    return dict(_handlers)
