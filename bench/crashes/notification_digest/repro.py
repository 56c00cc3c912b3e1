"""Build the digest for the account whose nightly e-mail job crashed (it never set up copies)."""

import json
import logging
import sys
from pathlib import Path

from notify.digest import build_digest

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("notify.nightly")


def main() -> int:
    data = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        mail = build_digest(data["account"], data["notifications"])
    except Exception:
        log.exception("digest for %s failed", data["account"]["name"])
        return 1
    log.info("digest to %s", ", ".join(mail["to"]))
    return 0 if mail["to"] == [data["account"]["owner_email"]] else 1


if __name__ == "__main__":
    sys.exit(main())
