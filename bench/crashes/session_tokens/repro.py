"""Verify a token issued before the key rotation (the login endpoint crashed on it)."""

import json
import logging
import sys
from pathlib import Path

from sessions.tokens import verify

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("sessions")


def main() -> int:
    req = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    try:
        user = verify(b"k" * 32, req["token"], algorithm=req["algorithm"])
    except Exception:
        log.exception("token verification failed")
        return 1
    log.info("token user: %s", user)
    return 0 if user == "legacy-user" else 1


if __name__ == "__main__":
    sys.exit(main())
