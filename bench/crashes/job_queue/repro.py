"""One scheduler tick with fewer pending jobs than the tick's budget (a quiet night)."""

import json
import logging
import sys
from pathlib import Path

from worker.queue import Job, JobQueue

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger("worker.scheduler")


def main() -> int:
    tick = json.loads((Path(__file__).parent / "tests" / "repro.json").read_text())
    queue = JobQueue()
    for job in tick["jobs"]:
        queue.submit(Job(**job))
    try:
        ran = queue.drain(tick["budget"])
    except Exception:
        log.exception("scheduler tick failed")
        return 1
    log.info("ran %d jobs", len(ran))
    return 0


if __name__ == "__main__":
    sys.exit(main())
