"""Replay the shipment notice that crashed the webhook worker in production."""

import json
import logging
import sys
from pathlib import Path

from inventory.stock import StockBook
from inventory.webhooks import handle_shipment_notice

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("inventory.worker")


def main() -> int:
    event = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        resp = handle_shipment_notice(event, StockBook())
    except Exception:
        log.exception("shipment webhook failed")
        return 1
    log.info("answered %s", resp["statusCode"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
