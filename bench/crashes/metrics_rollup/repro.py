"""Re-run the rollup of the minute when search was down (every /search request failed)."""

import json
import logging
import sys
from pathlib import Path

from metrics.rollup import Sample, rollup

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("metrics.rollup_job")


def main() -> int:
    rows = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        out = rollup([Sample(**r) for r in rows])
    except Exception:
        log.exception("rollup for minute 2024-05-14T03:12 failed")
        return 1
    log.info("rolled up %d endpoints", len(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
