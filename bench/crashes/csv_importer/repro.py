"""Re-run the CSV import that failed for a customer's export."""

import logging
import sys
from pathlib import Path

from contacts.importer import import_csv

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("contacts.import_job")


def main() -> int:
    text = (Path(__file__).parent / "tests" / "repro.csv").read_text()
    try:
        contacts = import_csv(text)
    except Exception:
        log.exception("import job failed")
        return 1
    log.info("imported %d contacts", len(contacts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
