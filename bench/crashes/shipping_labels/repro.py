"""Print the label of the first parcel to France since the move to the new container image."""

import json
import logging
import sys
from pathlib import Path

from labels.customs import label

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("labels.print_job")


def main() -> int:
    parcel = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        out = label(parcel)
    except Exception:
        log.exception("label printing failed")
        return 1
    log.info("label ready for %s", out["to"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
