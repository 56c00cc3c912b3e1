"""Replay the request that got a 500. An invalid query must be answered with a 400, not a crash."""

import json
import logging
import sys
from pathlib import Path

from catalog_api.listing import handle

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("catalog_api")


def main() -> int:
    event = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        resp = handle(event)
    except Exception:
        log.exception("GET /products failed")
        return 1
    log.info("answered %s", resp["statusCode"])
    if resp["statusCode"] != 400:
        log.error("per_page=0 should be rejected with 400, got %s", resp["statusCode"])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
