"""Replay the checkout request from the new mobile app, which sends currency codes in lower case."""

import json
import logging
import sys
from pathlib import Path

from fx.convert import price_basket

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("checkout")


def main() -> int:
    req = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        priced = price_basket(req)
    except Exception:
        log.exception("POST /basket/price failed")
        return 1
    log.info("priced: %s", priced)
    return 0 if priced["total"] == "23.41" else 1


if __name__ == "__main__":
    sys.exit(main())
