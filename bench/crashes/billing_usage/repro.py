"""Replay the billing-page request that returned a 500: an account created today."""

import json
import logging
import sys
from datetime import date
from pathlib import Path

from billing.statements import Account, statement

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("billing.api")


def main() -> int:
    req = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    acct = Account(req["account_id"], date.fromisoformat(req["created_on"]))
    try:
        st = statement(acct, req["usage"], date.fromisoformat(req["period_start"]), date.fromisoformat(req["today"]))
    except Exception:
        log.exception("GET /billing/statement failed for %s", req["account_id"])
        return 1
    log.info("statement total %s", st["total"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
