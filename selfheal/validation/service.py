"""Validate one candidate edit: the gates in order, tests in a sandbox, a reproduction, a report.

``validate_candidate`` stops at the first failed gate and writes what failed into ``feedback``
for the next prompt. The run of the tests before the patch depends only on the revision and the
command, so ``BaselineCache`` keeps it: a repair loop pays for it once. It runs concurrently
with the run after the patch when the sandbox has a PID namespace of its own (validation then
costs about one test run on a spare core); without one (Lambda) the runs go one at a time.
Each test process has a fixed cost (sandbox, interpreter, pytest start-up), so a regression test
rides along in an uncached run before the patch (``repro.run_within_baseline``)
and its result there is cached too; only otherwise does it get a run of its own.
(``BaselineCache`` and ``checkout_tree`` live in ``baseline.py``; they are imported from here too.)
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal.domain.deadline import seconds_left
from selfheal.domain.fixing import EditProposal, FixContext
from selfheal.domain.validation_report import GateResult, TestCounts, ValidationReport
from selfheal.ports import SourceRepository
from selfheal.settings import Settings
from selfheal.validation import gates, repro, testguard
from selfheal.validation.baseline import DEFAULT_BASELINE_CACHE, BaselineCache, checkout_tree
from selfheal.validation.sandbox import Sandbox, SandboxLimits
from selfheal.validation.testrun import (
    Comparison,
    TestRun,
    compare,
    is_pytest,
    resolve_command,
    run_tests,
    snapshot,
    tampered,
    write_files,
)

__all__ = ["BaselineCache", "TestPhase", "build_feedback", "prime_baseline", "sandbox_for",
           "validate_candidate"]

FEEDBACK_MAX_CHARS = 4000
DEADLINE_MARGIN_S = 15.0  # after the test runs: the report, its artifacts and the step record
MIN_RUN_TIMEOUT_S = 5.0


class _Validation:
    """Collects gates and commands for one report."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.report = ValidationReport(valid=False)

    def add(self, result: GateResult) -> bool:
        self.report.gates.append(result)
        if not result.passed and self.report.failed_gate is None:
            self.report.failed_gate = result.gate
        return result.passed

    def finish(self) -> ValidationReport:
        r = self.report
        r.valid = r.failed_gate is None and bool(r.gates)
        r.feedback = "" if r.valid else build_feedback(r)
        r.duration_ms = int((time.monotonic() - self.started) * 1000)
        return r


def validate_candidate(repo: SourceRepository, revision: str, context: FixContext,
                       proposal: EditProposal, settings: Settings, *, baseline: TestCounts | None = None,
                       cache: BaselineCache | None = None,
                       sandbox: Sandbox | None = None) -> ValidationReport:
    """Run every gate on ``proposal`` against ``revision``; stop at the first failure.

    ``baseline``: test counts of the unpatched revision, when the caller already has them
    (skips the run before the patch). ``cache``: where runs before the patch are kept
    (default: a process-wide cache). ``sandbox``: how commands run (default: built here).
    """
    v = _Validation()
    left = seconds_left()  # the workflow step's deadline, read in the step's own thread
    deadline = None if left is None else time.monotonic() + left
    if not (v.add(gates.non_empty(proposal))
            and v.add(gates.allowed_files(proposal, context.offered_files))):
        return v.finish()
    lexical = gates.inside_repo(proposal)
    if not lexical.passed:  # never touch the disk for a path that is already bad
        v.add(lexical)
        return v.finish()
    with checkout_tree(repo, revision) as tree:
        if not (v.add(gates.inside_repo(proposal, tree))
                and v.add(gates.deny_list(proposal, settings.deny_paths))
                and v.add(gates.size(proposal, settings.max_edit_bytes))):
            return v.finish()
        before = _read_files(tree, proposal)
        if not (v.add(gates.no_test_deletion(proposal, before)) and v.add(gates.app_code(proposal))):
            return v.finish()
        applied, changed = gates.applies(proposal, before)
        if not (v.add(applied) and v.add(gates.parses(changed)) and v.add(gates.lint(before, changed))):
            return v.finish()
        write_files(tree, changed)
        sandbox = sandbox or sandbox_for(settings)
        v.report.sandbox_notes = list(sandbox.notes)
        _test_phase(v, TestPhase(repo, revision, tree, context, proposal, settings, changed, baseline,
                                 cache or DEFAULT_BASELINE_CACHE, sandbox, deadline))
    return v.finish()


def prime_baseline(repo: SourceRepository, revision: str, settings: Settings, *,
                   cache: BaselineCache | None = None, sandbox: Sandbox | None = None) -> TestCounts | None:
    """Run the tests of the unpatched ``revision`` into ``cache`` ahead of validation (e.g. in a
    thread while the model works); the later ``validate_candidate`` then reuses it."""
    command = list(settings.test_command)
    box = sandbox or sandbox_for(settings)

    def run() -> TestRun:
        with checkout_tree(repo, revision) as tree:
            return run_tests(tree, command, timeout=settings.test_timeout_seconds, sandbox=box)

    result, _ = (cache or DEFAULT_BASELINE_CACHE).get_or_run(revision, command, run)
    return result.counts()


def sandbox_for(settings: Settings) -> Sandbox:
    """The sandbox ``settings`` ask for (limits per test run; selfheal's home and secrets hidden)."""
    hide = [settings.home, *([settings.secrets_file] if settings.secrets_file else [])]
    return Sandbox(limits=SandboxLimits(memory_mb=settings.sandbox_memory_mb,
                                        max_processes=settings.sandbox_max_processes), hide=hide)


def _read_files(tree: Path, proposal: EditProposal) -> dict[str, str]:
    """Current text of every path the proposal names (absent paths are simply not included)."""
    out: dict[str, str] = {}
    for path in dict.fromkeys(e.path for e in proposal.edits):
        target = tree / path
        if target.is_file() and not target.is_symlink():
            out[path] = target.read_text(encoding="utf-8", errors="surrogateescape")
    return out


@dataclass(frozen=True)
class TestPhase:
    """What the test phase of one validation works on: the patched ``tree`` (a checkout of
    ``revision`` with ``changed`` written), the edit and its context, and how to run tests."""

    __test__ = False  # not a pytest test class

    repo: SourceRepository
    revision: str
    tree: Path
    context: FixContext
    proposal: EditProposal
    settings: Settings
    changed: dict[str, str]
    baseline: TestCounts | None  # counts of the unpatched revision, when the caller has them
    cache: BaselineCache
    sandbox: Sandbox
    deadline: float | None = None  # time.monotonic() by which the step must be done (Lambda)


def _test_phase(v: _Validation, phase: TestPhase) -> None:
    repo, revision, tree, context = phase.repo, phase.revision, phase.tree, phase.context
    proposal, settings, changed, baseline = phase.proposal, phase.settings, phase.changed, phase.baseline
    cache, sandbox = phase.cache, phase.sandbox
    command = list(settings.test_command)
    planned = repro.plan(proposal, context.reproduction)
    # A new test that replaces the code under test proves nothing (and its patch can make other
    # tests pass): it is no reproduction, and no suite test it runs beside can verify the fix.
    untrusted = testguard.untrusted_reproductions(
        {c.target: changed[c.target] for c in planned if c.kind == "regression_test" and c.target in changed},
        [*context.offered_files, *changed])
    planned = [c for c in planned if c.target not in untrusted]
    v.report.sandbox_notes += [f"reproduction: {path} cannot count: it replaces the code under test "
                               f"({'; '.join(why[:3])})" for path, why in untrusted.items()]
    keys: list[tuple[str, ...]] = [
        (revision, c.kind, c.target, changed.get(c.target, "") if c.kind == "regression_test"
         else context.reproduction, context.exc_type) for c in planned]
    reused = [cache.get_check(k) for k in keys]
    checks = [r or c for r, c in zip(reused, planned, strict=True)]
    todo = [c for r, c in zip(reused, planned, strict=True) if r is None]
    # When the run before the patch is not cached, the regression tests ride along in it (one
    # test process fewer); the rest, or all when it is cached, run on their own meanwhile.
    can_merge = (baseline is None and is_pytest(resolve_command(command))
                 and cache.get(revision, command) is None)
    merged = [c for c in todo if c.kind == "regression_test"] if can_merge else []
    alone = [c for c in todo if all(c is not m for m in merged)]
    settled: list[repro.ReproCheck] = []
    concurrent = _side_by_side(v, sandbox)
    timeout = _run_timeout(v, phase, concurrent, repro_runs=1 if alone else 0)

    def run_baseline() -> TestRun:
        return _run_baseline(repo, revision, command, merged, changed, context.exc_type, settled,
                             sandbox=sandbox, timeout=timeout)

    def run_repro_before(pending: list[repro.ReproCheck]) -> None:
        with checkout_tree(repo, revision) as repro_tree:
            repro.run_before(repro_tree, pending, changed, context.reproduction, context.exc_type,
                             sandbox=sandbox, timeout=timeout)

    def run_before() -> tuple[TestRun, bool]:
        result = cache.get_or_run(revision, command, run_baseline)
        left = [c for c in merged if all(c is not s for s in settled)]
        if left:  # not collected by the command, or the cache was filled meanwhile
            run_repro_before(left)
        return result

    started = time.monotonic()
    workers = 2 if concurrent else 1
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="selfheal-validate") as pool:
        before_future: Future[tuple[TestRun, bool]] | None = None
        if baseline is None:
            before_future = pool.submit(run_before)
        repro_future = pool.submit(run_repro_before, alone) if alone else None
        if not concurrent:
            _wait(before_future, repro_future)
        # The tests run with write access to the tree: a hostile test could rewrite the source
        # so that the suite passes with code other than the patch. Compare afterwards.
        fingerprint = snapshot(tree)
        after = run_tests(tree, command, timeout=timeout, sandbox=sandbox)
        changed_by_run = tampered(fingerprint, tree)
        before: TestRun | TestCounts | None = baseline
        if before_future is not None:
            before_run, from_cache = before_future.result()
            before = before_run
            if from_cache:
                v.report.sandbox_notes.append("tests before the patch: reused from the baseline cache")
            label = "tests before (cached)" if from_cache else "tests before"
            v.report.commands.append(before_run.command.model_copy(update={"label": label}))
            v.report.tests_before = before_run.counts()
        else:
            v.report.tests_before = baseline
        if repro_future is not None:
            repro_future.result()
    _keep_checks(v, cache, keys, checks, reused, settled)
    after.command.label = "tests after"
    v.report.commands.append(after.command)
    v.report.tests_after = after.counts()
    comparison = compare(before, after)
    # A new regression test that failed before the patch and still fails after it is the
    # reproduction's verdict (a contradiction, with its own wording), not a new test failure.
    judged = {t for c in checks if c.kind == "regression_test" and c.failed_before
              for t in repro.file_outcomes(after.outcomes or {}, c.target)}
    comparison.newly_failing = [t for t in comparison.newly_failing if t not in judged]
    v.report.newly_failing = comparison.newly_failing
    v.report.newly_passing = comparison.newly_passing
    v.report.missing_tests = comparison.missing
    v.add(_tests_gate(comparison, before, after, started, changed_by_run))
    if v.report.failed_gate:
        return
    repro.run_after(tree, checks, after, context.reproduction, sandbox=sandbox, timeout=timeout)
    for check in checks:
        v.report.commands.extend(check.commands)
    repro_gate, verified = repro.gate(checks, [] if untrusted else comparison.newly_passing,
                                      after.command.output_tail)
    v.report.verified = verified
    if not v.add(repro_gate):
        return
    if not verified:
        allowed = settings.unverified != "abstain"
        v.add(GateResult(gate="verified", passed=allowed,
                         detail="no test checks the claim: " + (
                             "allowed as a draft pull request labelled unverified" if allowed else
                             "abstaining (settings.unverified = abstain); add a regression test that "
                             "fails before the fix and passes after it")))


def _side_by_side(v: _Validation, sandbox: Sandbox) -> bool:
    """Whether the runs before and after the patch may run concurrently: only in a PID namespace
    of their own (the report says when they did not). Without one every run shares one uid and
    one process table: a hostile test in one run could trace, signal or stall the other's
    processes (two probes tracing each other's children stalled both until the timeout) or
    poison the baseline."""
    if sandbox.isolation.pid:
        return True
    v.report.sandbox_notes.append("processes: no PID namespace; the test runs before and after "
                                  "the patch ran one after the other")
    return False


def _run_timeout(v: _Validation, phase: TestPhase, concurrent: bool, repro_runs: int) -> float:
    """One test run's timeout: the configured one, or less when the step's deadline (on Lambda,
    the function's remaining time) cannot hold the runs that go one after the other; the report
    says so. A timed-out run is a verdict; a Lambda that runs out of time leaves none."""
    configured = phase.settings.test_timeout_seconds
    if phase.deadline is None:
        return configured
    runs = 1
    if not concurrent:
        cached = phase.cache.get(phase.revision, phase.settings.test_command) is not None
        runs += int(phase.baseline is None and not cached) + repro_runs
    left = phase.deadline - time.monotonic() - DEADLINE_MARGIN_S
    share = max(MIN_RUN_TIMEOUT_S, float(math.floor(left / runs)))  # whole seconds: read in the verdict
    if share >= configured:
        return configured
    v.report.sandbox_notes.append(f"test timeout {share:.0f} s (configured {configured:g} s): the step has "
                                  f"{left + DEADLINE_MARGIN_S:.0f} s left for {runs} test run(s)")
    return share


def _wait(*futures: Future[Any] | None) -> None:
    """Until every given future is done (a failure is raised by its ``result()`` later)."""
    wait([f for f in futures if f is not None])


def _run_baseline(repo: SourceRepository, revision: str, command: list[str], merged: list[repro.ReproCheck],
                  changed: dict[str, str], exc_type: str, settled: list[repro.ReproCheck], *,
                  sandbox: Sandbox, timeout: float) -> TestRun:
    """The run before the patch, with the ``merged`` regression tests in it when it can stand
    as the baseline (the checks it settles go to ``settled``), else a run of the tree alone."""
    hung = None
    if merged:
        with checkout_tree(repo, revision) as base_tree:
            run, done, hung = repro.run_within_baseline(base_tree, merged, changed, command, exc_type,
                                                        sandbox=sandbox, timeout=timeout)
        settled.extend(done)
        if run is not None:
            return run
    with checkout_tree(repo, revision) as base_tree:
        alone = run_tests(base_tree, command, timeout=timeout, sandbox=sandbox)
    if hung is not None and alone.completed:
        settled.extend(repro.settle_timeout(merged, hung))
    return alone


def _keep_checks(v: _Validation, cache: BaselineCache, keys: list[tuple[str, ...]],
                 checks: list[repro.ReproCheck], reused: list[repro.ReproCheck | None],
                 settled: list[repro.ReproCheck]) -> None:
    """Cache what the reproductions did before the patch; say where their results came from."""
    v.report.sandbox_notes += [f"reproduction before: {c.target} ran within the tests before the patch "
                               "(its results are not part of that baseline)" for c in settled]
    v.report.sandbox_notes += [f"reproduction before: {c.target} reused from an earlier validation "
                               "(same revision, same test)" for c in reused if c is not None]
    for key, check, was in zip(keys, checks, reused, strict=True):
        if was is None:
            cache.put_check(key, check)


def _tests_gate(c: Comparison, before: TestRun | TestCounts | None, after: TestRun,
                started: float, changed_by_run: list[str]) -> GateResult:
    evidence: dict[str, object] = {
        "exit_code_after": after.command.exit_code, "timed_out": after.command.timed_out,
        "newly_failing": c.newly_failing, "newly_passing": c.newly_passing, "missing": c.missing,
    }
    if isinstance(before, TestRun):
        evidence["exit_code_before"] = before.command.exit_code
    passed = c.passed and not changed_by_run
    if changed_by_run:
        evidence["tampered"] = changed_by_run
        detail = f"the test run changed or deleted files of the source tree: {', '.join(changed_by_run[:10])}"
    elif after.command.timed_out:
        detail = f"the test run after the patch timed out ({after.command.duration_ms / 1000:.1f}s)"
    elif not c.comparable:
        detail = c.detail
    elif c.newly_failing:
        detail = f"{len(c.newly_failing)} test(s) fail after the patch that did not before: " \
                 f"{', '.join(c.newly_failing[:10])}"
    elif c.missing:
        detail = f"{len(c.missing)} test(s) ran before the patch but not after: {', '.join(c.missing[:10])}"
    else:
        counts = after.counts()
        detail = (f"{counts.passed} passed, {counts.failed + counts.errors} failing "
                  f"(none new), {len(c.newly_passing)} fixed" if counts else c.detail or "tests pass")
    if not passed:
        evidence["output_tail"] = after.command.output_tail[-3000:]
    return GateResult(gate="tests", passed=passed, detail=detail, evidence=evidence,
                      duration_ms=int((time.monotonic() - started) * 1000))


def build_feedback(report: ValidationReport, limit: int = FEEDBACK_MAX_CHARS) -> str:
    """What the next prompt needs: which gate failed, its detail, and trimmed evidence."""
    failed = next((g for g in report.gates if not g.passed), None)
    if failed is None:
        return ""
    parts = [f"Your previous edit was rejected by the '{failed.gate}' check: {failed.detail}"]
    findings = failed.evidence.get("new_findings")
    if isinstance(findings, list):
        parts.append("New lint findings:\n" + "\n".join(
            f"  {f['file']}:{f['line']}: {f['message']}" for f in findings[:20] if isinstance(f, dict)))
    tail = failed.evidence.get("output_tail")
    if isinstance(tail, str) and tail.strip():
        parts.append("Test output (end):\n" + tail[-2500:])
    problems = failed.evidence.get("problems")
    if isinstance(problems, list):
        parts.append("Problems:\n" + "\n".join(f"  {p}" for p in problems[:20]))
    text = "\n\n".join(parts)
    return text if len(text) <= limit else text[: limit - 20] + "\n... [trimmed]"
