"""Replay the delivery whose subscriber answered 503: the worker crashed scheduling the retry."""

import json
import logging
import sys
from datetime import datetime
from pathlib import Path

from hooks.delivery import Event, deliver

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("hooks.worker")


def main() -> int:
    rec = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    event = Event(rec["event_id"], rec["url"], rec["payload"], datetime.fromisoformat(rec["received_at"]))
    try:
        result = deliver(event, lambda url, payload: rec["subscriber_status"])
    except Exception:
        log.exception("delivery of %s failed", rec["event_id"])
        return 1
    log.info("delivery result %s", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
