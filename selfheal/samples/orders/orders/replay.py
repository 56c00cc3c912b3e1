"""Replay recorded requests through the routes, logging like the production service does.

    python -m orders.replay requests.jsonl --log logs/orders.log

Each line of the requests file is an API Gateway proxy event with a ``requestContext.requestId``.
The log is what the service writes on AWS Lambda (the runtime's text format): ``START`` and
``END RequestId`` around each invocation, the event logged on entry (``Received event: {...}``,
as the AWS blueprints do), and an unhandled exception logged with its traceback from the handler
down (the runtime's own frames are not shown) and answered with a 500.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import traceback
from pathlib import Path
from typing import Any

from orders.handler import route

logger = logging.getLogger("orders.api")
# The Lambda Python runtime's text format: [LEVEL]\t<UTC time>\t<request id>\t<message>
LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


class _RuntimeFormatter(logging.Formatter):
    """Tracebacks start at the handler, as the Lambda runtime prints them (its frames dropped)."""

    converter = time.gmtime

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        etype, value, tb = ei
        return "".join(traceback.format_exception(etype, value, tb.tb_next if tb else tb)).rstrip("\n")


class _RequestId(logging.Filter):
    request_id = "-"

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


_request = _RequestId()


def serve(event: dict[str, Any], log: Any = None) -> dict[str, Any]:
    """Handle one event as one Lambda invocation; turn a crash into a logged 500."""
    request_id = event.get("requestContext", {}).get("requestId", "-")
    _request.request_id = request_id
    if log is not None:
        log.write(f"START RequestId: {request_id} Version: $LATEST\n")
        log.flush()
    logger.info("Received event: %s", json.dumps(event))
    try:
        response = route(event, None)
    except Exception:
        logger.exception("request %s %s failed", event.get("httpMethod"), event.get("path", event.get("resource")))
        response = {"statusCode": 500, "body": json.dumps({"message": "internal error"})}
    else:
        logger.info("request %s %s -> %s", event.get("httpMethod"), event.get("path", event.get("resource")),
                    response["statusCode"])
    if log is not None:
        log.write(f"END RequestId: {request_id}\n")
        log.flush()
    return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", type=Path, help="JSON lines file of proxy events")
    parser.add_argument("--log", type=Path, default=Path("logs/orders.log"), help="log file to append to")
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    failures = 0
    with args.log.open("a", encoding="utf-8") as log, args.requests.open(encoding="utf-8") as lines:
        handler = logging.StreamHandler(log)
        handler.setFormatter(_RuntimeFormatter(LOG_FORMAT, DATE_FORMAT))
        handler.addFilter(_request)
        logging.basicConfig(level=logging.INFO, handlers=[handler])
        for line in lines:
            if line.strip():
                failures += serve(json.loads(line), log)["statusCode"] >= 500
    print(f"replayed requests; {failures} failed with 500 (see {args.log})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
