"""Local ownership of a running fix attempt: the owning process id plus a heartbeat.

A local execution lives in the process that runs it (``selfheal fix``/``redrive``). That
process holds a lease file ``<home>/leases/<fingerprint>-<attempt>.json`` and refreshes its
heartbeat while it follows the execution; the sweeper (``selfheal.services.workflow.sweeper``,
given ``owner_alive``) counts an attempt whose lease names a dead process, or whose heartbeat is
stale, as lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from selfheal.domain.records import utcnow

LEASE_DIR = "leases"
HEARTBEAT_EVERY_S = 5.0
# A heartbeat older than this means the owner is stuck or gone (the poll loop beats every
# HEARTBEAT_EVERY_S; a process suspended for longer loses its attempt, which it then finds FAILED).
STALE_AFTER = timedelta(seconds=120)


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this machine (signal 0 probes without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


@dataclass(frozen=True)
class LeaseInfo:
    """What a lease file says."""

    fingerprint: str
    attempt: int
    pid: int
    host: str
    heartbeat_at: datetime
    path: Path

    def alive(self, now: datetime | None = None) -> bool:
        """The owner runs (same host, pid exists) and beat recently."""
        now = now or utcnow()
        if self.host != socket.gethostname() or not pid_alive(self.pid):
            return False
        return now - self.heartbeat_at < STALE_AFTER


def lease_path(home: Path, fingerprint: str, attempt: int) -> Path:
    return home / LEASE_DIR / f"{fingerprint}-{attempt}.json"


class Lease:
    """This process's claim on one attempt (``beat`` while following it, ``release`` at the end)."""

    def __init__(self, home: Path, fingerprint: str, attempt: int) -> None:
        self.path = lease_path(home, fingerprint, attempt)
        self.fingerprint, self.attempt = fingerprint, attempt
        self._last = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.beat(force=True)

    def beat(self, force: bool = False) -> None:
        """Refresh the heartbeat (at most every ``HEARTBEAT_EVERY_S`` unless ``force``)."""
        now = time.monotonic()
        if not force and now - self._last < HEARTBEAT_EVERY_S:
            return
        self._last = now
        data = {"fingerprint": self.fingerprint, "attempt": self.attempt, "pid": os.getpid(),
                "host": socket.gethostname(), "heartbeat_at": utcnow().isoformat()}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self.path)  # atomic: a sweeper never reads half a file

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def read_lease(path: Path) -> LeaseInfo | None:
    """The lease at ``path``, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LeaseInfo(fingerprint=str(data["fingerprint"]), attempt=int(data["attempt"]),
                         pid=int(data["pid"]), host=str(data["host"]),
                         heartbeat_at=datetime.fromisoformat(data["heartbeat_at"]), path=path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_lease(home: Path, fingerprint: str, attempt: int) -> LeaseInfo | None:
    return read_lease(lease_path(home, fingerprint, attempt))


def owner_alive(home: Path) -> Callable[[str, int], bool | None]:
    """``(fingerprint, attempt) -> alive?`` from the leases under ``home`` (None: no lease)."""

    def check(fingerprint: str, attempt: int) -> bool | None:
        lease = find_lease(home, fingerprint, attempt)
        return None if lease is None else lease.alive()

    return check


def remove_dead_leases(home: Path) -> int:
    """Delete the leases of owners that are gone (after a sweep marked their attempts lost)."""
    removed = 0
    for path in sorted((home / LEASE_DIR).glob("*.json")):
        info = read_lease(path)
        if info is None or not info.alive():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed += 1
    return removed
