"""Expense approval for someone in a team whose HR export has a reporting loop."""

import json
import logging
import sys
from pathlib import Path

from org.chart import approvers

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("org.expenses")


def main() -> int:
    data = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        who = approvers(data["managers"], data["person"])
    except Exception:
        log.exception("could not route the expense claim of %s", data["person"])
        return 1
    log.info("approvers: %s", who)
    return 0


if __name__ == "__main__":
    sys.exit(main())
