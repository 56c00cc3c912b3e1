"""Replay the bulk delete whose audit entry never reached the SIEM (only a logging error did)."""

import json
import logging
import sys
from pathlib import Path

from audit.trail import record_bulk_delete

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except (TypeError, ValueError):
            pass  # the root handler reports the logging error


def main() -> int:
    data = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    capture = Capture()
    logging.getLogger("audit").addHandler(capture)
    record_bulk_delete(data["actor"], data["ids"])
    return 0 if capture.messages else 1


if __name__ == "__main__":
    sys.exit(main())
