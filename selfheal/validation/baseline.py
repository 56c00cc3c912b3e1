"""Where runs of the unpatched tree are kept: ``BaselineCache`` (tests before the patch, and the
reproductions' results there, per revision) and ``checkout_tree`` (a serialised git checkout)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from selfheal.ports import SourceRepository
from selfheal.validation import repro
from selfheal.validation.testrun import TestRun

_checkout_lock = threading.Lock()


@contextmanager
def checkout_tree(repo: SourceRepository, revision: str) -> Iterator[Path]:
    """``repo.checkout(revision)`` with set-up and clean-up serialised (git worktree bookkeeping
    is not safe to run concurrently in one repository)."""
    with _checkout_lock:
        cm = repo.checkout(revision)
        tree = cm.__enter__()
    try:
        yield tree
    finally:
        with _checkout_lock:
            cm.__exit__(None, None, None)


class BaselineCache:
    """Test runs on unpatched trees, keyed by (revision, test command); at most ``max_entries``
    (and the reproductions' results before the patch, see ``get_check``).

    Concurrent callers for one key share a single run. Runs that timed out are not kept (a busy
    machine should not make every later attempt unverifiable).
    """

    def __init__(self, max_entries: int = 16) -> None:
        self.max_entries = max_entries
        self._runs: OrderedDict[tuple[str, tuple[str, ...]], TestRun] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, tuple[str, ...]], threading.Lock] = {}
        # Reproductions on unpatched trees, keyed by revision, kind, target, content and error
        # type: a repair loop that keeps its regression test runs it before the patch once.
        self._checks: OrderedDict[tuple[str, ...], repro.ReproCheck] = OrderedDict()

    @staticmethod
    def key(revision: str, command: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        return revision, tuple(command)

    def get(self, revision: str, command: Sequence[str]) -> TestRun | None:
        with self._lock:
            return self._runs.get(self.key(revision, command))

    def put(self, revision: str, command: Sequence[str], run: TestRun) -> None:
        if not run.completed:
            return
        with self._lock:
            self._runs[self.key(revision, command)] = run
            self._runs.move_to_end(self.key(revision, command))
            while len(self._runs) > self.max_entries:
                self._runs.popitem(last=False)

    def get_or_run(self, revision: str, command: Sequence[str],
                   run: Callable[[], TestRun]) -> tuple[TestRun, bool]:
        """The cached run, or ``run()`` stored; the flag says whether it came from the cache."""
        key = self.key(revision, command)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            cached = self.get(revision, command)
            if cached is not None:
                return cached, True
            result = run()
            self.put(revision, command, result)
            return result, False

    def get_check(self, key: tuple[str, ...]) -> repro.ReproCheck | None:
        """A copy of a reproduction's result before the patch, recorded by ``put_check``."""
        with self._lock:
            check = self._checks.get(key)
        return None if check is None else replace(check, commands=[
            c.model_copy(update={"label": f"{c.label} (cached)"}) for c in check.commands])

    def put_check(self, key: tuple[str, ...], check: repro.ReproCheck) -> None:
        """Keep what ``check`` did on the unpatched tree (conclusive results only)."""
        if check.failed_before is None:
            return
        with self._lock:
            self._checks[key] = replace(check, commands=list(check.commands))
            self._checks.move_to_end(key)
            while len(self._checks) > self.max_entries * 4:
                self._checks.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._checks.clear()


DEFAULT_BASELINE_CACHE = BaselineCache()
