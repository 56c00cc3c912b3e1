"""Run the project's test command in a tree and compare runs before and after a patch.

The command comes from ``settings.test_command`` (default ``python -m pytest -x -q``). A leading
``python``/``python3`` runs as ``sys.executable``. For pytest commands we append
``--junitxml=<temp file outside the tree> -o junit_family=xunit1`` to get per-test outcomes, and
``--maxfail=0``, which overrides ``-x``/``--exitfirst``/``--maxfail`` from the command or the
project's ``addopts``: with ``-x`` the run before the patch stops at the first pre-existing
failure and the run after stops at the first failure, so the two runs cover different tests and
"only new failures count" cannot be computed. Validation pays for the full run; the verdict is
worth it. Other commands are compared by exit code only.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from selfheal.domain.edit_format import normalise_path
from selfheal.domain.validation_report import CommandRun, TestCounts
from selfheal.errors import ConfigurationError, EditRejected
from selfheal.validation.sandbox import Sandbox

MAX_JUNIT_BYTES = 50 * 1024 * 1024
DETAIL_MAX_CHARS = 4000
_PYTHON_NAMES = {"python", "python3", f"python3.{sys.version_info.minor}"}

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


def is_pytest(command: Sequence[str]) -> bool:
    """True when the command runs pytest (``python -m pytest``, ``pytest``, ``uv run pytest``...)."""
    return any(PurePosixPath(a).name in ("pytest", "py.test") for a in command)


def resolve_command(command: Sequence[str]) -> list[str]:
    """The command with a leading ``python``/``python3`` replaced by this interpreter (and a bare
    ``pytest`` run as ``<this interpreter> -m pytest``: the scrubbed PATH may not reach it)."""
    argv = list(command)
    if not argv or not argv[0].strip():
        raise ConfigurationError("the test command is empty (settings.test_command)")
    if argv[0] in _PYTHON_NAMES:
        argv[0] = sys.executable
    elif argv[0] in ("pytest", "py.test"):
        argv[:1] = [sys.executable, "-m", "pytest"]
    return argv


def prepare_command(command: Sequence[str], junit_path: Path | None) -> list[str]:
    """The argv to run: resolved python; for pytest, full runs with a JUnit XML report."""
    argv = resolve_command(command)
    if junit_path is not None and is_pytest(argv):
        argv += ["--maxfail=0", f"--junitxml={junit_path}", "-o", "junit_family=xunit1"]
    return argv


@dataclass
class TestRun:
    """One run of a test command: the command record and, for pytest, every test's outcome."""

    __test__ = False  # not a pytest test class

    command: CommandRun
    outcomes: dict[str, str] | None = None  # test id -> passed | failed | error | skipped
    details: dict[str, str] = field(default_factory=dict)  # failing test id -> its message (trimmed)

    @property
    def completed(self) -> bool:
        """The command ran to its end (not killed by the timeout, not unstartable)."""
        return not self.command.timed_out and self.command.exit_code is not None

    @property
    def failing(self) -> set[str]:
        return {t for t, o in (self.outcomes or {}).items() if o in (FAILED, ERROR)}

    def counts(self) -> TestCounts | None:
        if self.outcomes is None:
            return None
        values = list(self.outcomes.values())
        return TestCounts(passed=values.count(PASSED), failed=values.count(FAILED),
                          errors=values.count(ERROR), skipped=values.count(SKIPPED),
                          failing_tests=sorted(self.failing))


def _test_id(case: ET.Element) -> str:
    name = case.get("name", "")
    classname = case.get("classname", "")
    file = case.get("file")
    if file:
        module = file[:-3].replace("/", ".") if file.endswith(".py") else file
        rest = classname[len(module):].lstrip(".") if classname.startswith(module) else ""
        return "::".join(p for p in (file, *rest.split("."), name) if p)
    return f"{classname}::{name}" if classname else name


def parse_junit(path: Path) -> dict[str, str] | None:
    """Outcomes by test id from a pytest JUnit XML file, or None when absent or unreadable."""
    report = parse_junit_report(path)
    return None if report is None else report[0]


def parse_junit_report(path: Path) -> tuple[dict[str, str], dict[str, str]] | None:
    """Outcomes by test id and, for failing tests, their failure text (message and traceback,
    at most ``DETAIL_MAX_CHARS`` each); None when the file is absent or unreadable."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_JUNIT_BYTES:
            return None
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    outcomes: dict[str, str] = {}
    details: dict[str, str] = {}
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        if "error" in tags:
            outcome = ERROR
        elif "failure" in tags:
            outcome = FAILED
        elif "skipped" in tags:
            outcome = SKIPPED
        else:
            outcome = PASSED
        tid = _test_id(case)
        # A test that passed its call but errored in teardown appears twice: the worse wins.
        if outcomes.get(tid) in (FAILED, ERROR) and outcome in (PASSED, SKIPPED):
            continue
        outcomes[tid] = outcome
        if outcome in (FAILED, ERROR):
            texts = [f"{c.get('message', '')}\n{c.text or ''}" for c in case if c.tag in ("failure", "error")]
            details[tid] = (details.get(tid, "") + "\n".join(texts))[-DETAIL_MAX_CHARS:]
    return outcomes, details


def run_tests(tree: Path, command: Sequence[str], *, timeout: float, sandbox: Sandbox,
              env: Mapping[str, str] | None = None) -> TestRun:
    """Run ``command`` in ``tree`` inside ``sandbox``; parse per-test outcomes for pytest."""
    with tempfile.TemporaryDirectory(prefix="selfheal-junit-") as scratch:
        junit = Path(scratch) / "report.xml"
        argv = prepare_command(command, junit)
        run = sandbox.run(argv, tree, timeout=timeout, env=env, writable=[Path(scratch)])
        report = parse_junit_report(junit) if is_pytest(argv) and not run.timed_out else None
    if report is None:
        return TestRun(command=run)
    return TestRun(command=run, outcomes=report[0], details=report[1])


def write_files(tree: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (repo path -> text) into ``tree`` without following any symlink."""
    root = tree.resolve()
    for rel, text in files.items():
        norm = normalise_path(rel)
        current = root
        parts = norm.split("/")
        for part in parts[:-1]:
            current = current / part
            if current.is_symlink():
                raise EditRejected(f"{norm}: directory {part!r} is a symlink")
            if not current.exists():
                current.mkdir()
            elif not current.is_dir():
                raise EditRejected(f"{norm}: {part!r} is not a directory")
        target = current / parts[-1]
        if target.is_symlink():
            raise EditRejected(f"{norm} is a symlink")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            fh.write(text)


_SNAPSHOT_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox",
                       "node_modules", ".venv", "venv"}
SNAPSHOT_MAX_FILE_BYTES = 5 * 1024 * 1024


def snapshot(tree: Path) -> dict[str, str]:
    """SHA-256 of every regular file in ``tree`` (caches and VCS data aside), by relative path."""
    out: dict[str, str] = {}
    for root, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if d not in _SNAPSHOT_SKIP_DIRS]
        for name in files:
            path = Path(root) / name
            if path.is_symlink() or not path.is_file() or path.suffix == ".pyc":
                continue
            try:
                if path.stat().st_size > SNAPSHOT_MAX_FILE_BYTES:
                    continue
                out[path.relative_to(tree).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                continue
    return out


def tampered(before: dict[str, str], tree: Path) -> list[str]:
    """Files of the snapshot that a run changed or removed (new files are fine: test output)."""
    after = snapshot(tree)
    return sorted(p for p, digest in before.items() if after.get(p) != digest)


@dataclass
class Comparison:
    """How the run after the patch differs from the run before it."""

    newly_failing: list[str] = field(default_factory=list)
    newly_passing: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # ran before, gone (or newly skipped) after
    comparable: bool = True
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.comparable and not self.newly_failing and not self.missing


def compare(before: TestRun | TestCounts | None, after: TestRun) -> Comparison:
    """Only new failures count against the patch; tests fixed by it count for it."""
    if not after.completed:
        why = "timed out" if after.command.timed_out else "could not run"
        return Comparison(comparable=False, detail=f"the test run after the patch {why}")
    if after.outcomes is None:
        return _compare_exit_codes(before, after)
    after_failing = after.failing
    before_outcomes: dict[str, str] | None = None
    before_failing: set[str] | None = None
    if isinstance(before, TestRun) and before.completed and before.outcomes is not None:
        before_outcomes = before.outcomes
        before_failing = before.failing
    elif isinstance(before, TestCounts):
        before_failing = set(before.failing_tests)
    if before_failing is None:
        # No usable baseline: every failure after the patch counts against it.
        return Comparison(newly_failing=sorted(after_failing), comparable=True,
                          detail="no usable run before the patch; every failure counts")
    result = Comparison(newly_failing=sorted(after_failing - before_failing),
                        newly_passing=sorted(t for t in before_failing if after.outcomes.get(t) == PASSED))
    if before_outcomes is not None:
        result.missing = sorted(t for t, o in before_outcomes.items()
                                if t not in after.outcomes or (o == PASSED and after.outcomes[t] == SKIPPED))
    elif isinstance(before, TestCounts):
        ran_before = before.passed + before.failed + before.errors
        ran_after = sum(1 for o in after.outcomes.values() if o != SKIPPED)
        if ran_after < ran_before:
            result.missing = [f"{ran_before - ran_after} test(s) ran before the patch but not after"]
    return result


def _compare_exit_codes(before: TestRun | TestCounts | None, after: TestRun) -> Comparison:
    if after.command.exit_code == 0:
        return Comparison(detail="the test command succeeds after the patch (no per-test results)")
    before_ok = isinstance(before, TestRun) and before.command.exit_code == 0
    detail = (f"the test command exits {after.command.exit_code} after the patch"
              + (" (it succeeded before)" if before_ok else "; without per-test results no comparison"))
    return Comparison(newly_failing=["<test command>"], detail=detail)
