"""Build the Monday report that failed: five weeks of sales."""

import json
import logging
import sys
from pathlib import Path

from reports.weekly import trend, week_over_week

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("reports.monday")


def main() -> int:
    data = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        rows = week_over_week(data["weekly_totals"])
        slope = trend(data["weekly_totals"])
    except Exception:
        log.exception("Monday report failed")
        return 1
    log.info("%d weeks, trend %s", len(rows), slope)
    return 0 if slope == 93.25 else 1


if __name__ == "__main__":
    sys.exit(main())
