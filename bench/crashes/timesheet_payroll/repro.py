"""Run payroll for the timesheet that stopped the weekly batch (a day entered without overtime)."""

import json
import logging
import sys
from pathlib import Path

from payroll.weekly import gross_pay

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("payroll.batch")


def main() -> int:
    sheet = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        out = gross_pay(sheet)
    except Exception:
        log.exception("payroll failed for %s", sheet["employee"])
        return 1
    log.info("gross pay %s", out)
    return 0 if out["gross"] == "341.25" else 1


if __name__ == "__main__":
    sys.exit(main())
