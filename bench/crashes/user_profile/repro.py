"""Render the profile of the user whose page returned a 500 (signed up, never opened settings)."""

import json
import logging
import sys
from pathlib import Path

from profiles.view import profile_view

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("profiles.api")


def main() -> int:
    user = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        view = profile_view(user)
    except Exception:
        log.exception("GET /users/%s/profile failed", user["id"])
        return 1
    log.info("rendered profile of %s", view["id"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
