"""Replay recorded requests through the routes, logging like the production service does.

    python -m orders.replay requests.jsonl --log logs/orders.log

Each line of the requests file is an API Gateway proxy event with a ``requestContext.requestId``.
An unhandled exception is logged with its traceback (``logger.exception``) and answered with a
500, as the production API's error middleware does.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from orders.handler import route

logger = logging.getLogger("orders.api")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"


def serve(event: dict[str, Any]) -> dict[str, Any]:
    """Handle one event; turn a crash into a logged 500."""
    request_id = event.get("requestContext", {}).get("requestId", "-")
    try:
        response = route(event)
    except Exception:
        logger.exception("request %s %s %s failed", request_id, event.get("httpMethod"),
                         event.get("path", event.get("resource")))
        return {"statusCode": 500, "body": json.dumps({"message": "internal error"})}
    logger.info("request %s %s %s -> %s", request_id, event.get("httpMethod"),
                event.get("path", event.get("resource")), response["statusCode"])
    return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", type=Path, help="JSON lines file of proxy events")
    parser.add_argument("--log", type=Path, default=Path("logs/orders.log"), help="log file to append to")
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=args.log, level=logging.INFO, format=LOG_FORMAT)
    failures = 0
    with args.requests.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                failures += serve(json.loads(line))["statusCode"] >= 500
    print(f"replayed requests; {failures} failed with 500 (see {args.log})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
