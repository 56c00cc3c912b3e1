"""Start-up with the staging config file, which sets no CORS origins."""

import logging
import sys
from pathlib import Path

from appconfig.loader import load

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("appconfig")


def main() -> int:
    text = (Path(__file__).parent / "tests" / "repro.ini").read_text()
    try:
        cfg = load(text, {})
    except Exception:
        log.exception("could not load configuration")
        return 1
    log.info("listening on %d", cfg.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
