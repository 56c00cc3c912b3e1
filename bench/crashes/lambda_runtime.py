"""Invoke a crash repository's Lambda handler once and print the log Lambda would have written.

    python lambda_runtime.py MODULE.FUNCTION EVENT.json --format FORMAT [--request-id ID]

Run from the repository's deployment directory (it is put on ``sys.path``, as ``/var/task`` is).
Like the Lambda Python runtime, the traceback of an unhandled exception starts at the handler:
this file's frame (the runtime's) is not printed. FORMAT is how the service logs its event:

- ``blueprint``: the AWS blueprint's ``print("Received event: " + json.dumps(event, indent=2))``
  between ``START``/``END RequestId``, then the runtime's ``[ERROR] Type: message\\rTraceback...``;
- ``runtime``: the runtime's logging format ``[INFO]\\t<time>\\t<request id>\\tevent: {...}`` and the
  error logged on ``[ERROR]\\t<time>\\t<request id>\\t`` lines, without START/END (a filtered export);
- ``json``: Lambda's JSON log format (``platform.start``, records with ``requestId``, the error
  document as the message, ``platform.runtimeDone``);
- ``powertools``: Powertools ``Logger.inject_lambda_context(log_event=True)`` records, then the
  runtime's text error report;
- ``helper``: ``selfheal.lambda_helper``'s one record with the event and the traceback. The
  runtime's own report of the re-raised exception is left out: installed from a package index,
  the helper's frame is library code and that report groups with the helper's; from this
  editable checkout it would not.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any

TIME = "2026-11-29T14:37:55.570Z"


class LambdaContext:
    """What the runtime passes as ``context``."""

    def __init__(self, request_id: str, name: str) -> None:
        self.aws_request_id = request_id
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = 256
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/11/29/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _frames(exc: BaseException) -> list[str]:
    """The traceback from the handler down (the runtime's frame, this file's, dropped)."""
    tb = exc.__traceback__.tb_next if exc.__traceback__ else None
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n").split("\n")


def _runtime_error_line(exc: BaseException) -> str:
    lines = _frames(exc)
    return "\r".join([f"[ERROR] {type(exc).__name__}: {exc}", *lines])


def invoke(target: str, event: dict[str, Any], fmt: str, rid: str) -> int:
    module_name, function_name = target.rsplit(".", 1)
    module = importlib.import_module(module_name)
    fn = getattr(module, function_name)
    name = module_name.split(".")[0]
    context = LambdaContext(rid, name)
    out = sys.stdout
    if fmt == "powertools":
        import logging

        from aws_lambda_powertools import Logger

        fn = Logger(service=name, logger_handler=logging.StreamHandler(out)).inject_lambda_context(
            log_event=True)(fn)
    elif fmt == "helper":
        from selfheal.lambda_helper import lambda_helper

        fn = lambda_helper(fn, stream=out)
    if fmt == "json":
        out.write(json.dumps({"time": TIME, "type": "platform.start", "record": {"requestId": rid,
                                                                                "version": "$LATEST"}}) + "\n")
        out.write(json.dumps({"timestamp": TIME, "level": "INFO", "requestId": rid,
                              "message": "Received event: " + json.dumps(event)}) + "\n")
    elif fmt == "runtime":
        out.write(f"[INFO]\t{TIME}\t{rid}\tevent: {json.dumps(event)}\n")
    else:
        out.write(f"START RequestId: {rid} Version: $LATEST\n")
        if fmt == "blueprint":
            out.write("Received event: " + json.dumps(event, indent=2) + "\n")
    out.flush()
    failed = 0
    try:
        result = fn(event, context)
    except Exception as exc:
        failed = 1
        if fmt == "json":
            doc = {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": rid,
                   "stackTrace": [line + "\n" for line in _frames(exc)[1:-1]]}
            out.write(json.dumps({"timestamp": TIME, "level": "ERROR", "requestId": rid, "message": doc}) + "\n")
        elif fmt == "runtime":
            lines = _frames(exc)
            out.write(f"[ERROR]\t{TIME}\t{rid}\tunhandled {type(exc).__name__}\n" + "\n".join(lines) + "\n")
        elif fmt != "helper":
            out.write(_runtime_error_line(exc) + "\n")
    else:
        out.write(f"[INFO]\t{TIME}\t{rid}\tresult: {json.dumps(result, default=str)}\n")
    if fmt == "json":
        out.write(json.dumps({"time": TIME, "type": "platform.runtimeDone",
                              "record": {"requestId": rid, "status": "error" if failed else "success"}}) + "\n")
    elif fmt != "runtime":
        out.write(f"END RequestId: {rid}\nREPORT RequestId: {rid}\tDuration: 3.21 ms\tBilled Duration: 4 ms\n")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="MODULE.FUNCTION of the handler")
    parser.add_argument("event", type=Path, help="JSON file with the event")
    parser.add_argument("--format", required=True,
                        choices=["blueprint", "runtime", "json", "powertools", "helper"])
    parser.add_argument("--request-id", default="3f6c2a9e-8d41-4b7a-9c15-2e0f7d1a5b84")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path.cwd()))
    return invoke(args.target, json.loads(args.event.read_text()), args.format, args.request_id)


if __name__ == "__main__":
    sys.exit(main())
