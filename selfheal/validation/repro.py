"""Reproduction: checks that a patch fixes the failure it claims to fix.

Two sources of a reproduction:

- a regression test the model adds (a new test module in the edit): it runs on the unpatched
  tree, where it must fail, and on the patched tree, where it must pass;
- the failing input recorded with the error (``FixContext.reproduction``): the replay of the
  recorded events against the entry frame (``selfheal.domain.replay``). Before the patch it must
  raise the error's type from the error's own in-app frame; after it, it must finish without
  raising. A different exception after the patch is a contradiction too: moving the exception
  is not a fix. (A hand-written script without the replay's markers is judged by its exit code:
  non-zero before, zero after.)

A check that fails before and passes after *verifies* the patch. A check that fails before and
still fails after *contradicts* it (the patch does not fix what it claims). A check that passes
before reproduces nothing: it neither verifies nor contradicts.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from selfheal.domain.edit_format import is_test_path
from selfheal.domain.fixing import EditProposal
from selfheal.domain.replay import EXIT_CLEAN, EXIT_OTHER, EXIT_REPRODUCED, MARKER
from selfheal.domain.validation_report import CommandRun, GateResult
from selfheal.validation.sandbox import Sandbox
from selfheal.validation.testrun import (
    ERROR,
    FAILED,
    PASSED,
    TestRun,
    parse_junit,
    run_tests,
    snapshot,
    tampered,
    write_files,
)

REPRO_SCRIPT = "_selfheal_reproduction.py"  # not a pytest module name: the suite never collects it


@dataclass
class ReproCheck:
    """One reproduction and what it did before and after the patch."""

    kind: str  # regression_test | recorded_input
    target: str
    failed_before: bool | None = None
    passed_after: bool | None = None
    shows_error: bool = False  # the run before the patch printed the error's exception type
    expected_error: str = ""  # the error's exception type; when set, the failure must show it
    detail: str = ""
    commands: list[CommandRun] = field(default_factory=list)

    @property
    def reproduces(self) -> bool:
        """Failed before the patch, with the error's exception type when one is known."""
        return bool(self.failed_before) and (not self.expected_error or self.shows_error)

    @property
    def verifies(self) -> bool:
        return self.reproduces and bool(self.passed_after)

    replayed: bool = False  # a replay script that reported each input (its exit code is a verdict)

    @property
    def contradicts(self) -> bool:
        # A replay that never reproduced the error says nothing about the patch, either way.
        before = self.reproduces if self.replayed else bool(self.failed_before)
        return before and self.passed_after is False

    def summary(self) -> dict[str, object]:
        return {"kind": self.kind, "target": self.target, "failed_before": self.failed_before,
                "passed_after": self.passed_after, "shows_error": self.shows_error,
                "reproduces": self.reproduces, "verifies": self.verifies, "detail": self.detail}


def new_test_files(proposal: EditProposal) -> list[str]:
    """Test modules the edit creates (its regression tests)."""
    return list(dict.fromkeys(e.path for e in proposal.edits if e.search == "" and is_test_path(e.path)))


def plan(proposal: EditProposal, reproduction: str) -> list[ReproCheck]:
    """The reproductions available for this proposal (empty: nothing can check the claim)."""
    checks = [ReproCheck(kind="regression_test", target=p) for p in new_test_files(proposal)]
    if reproduction.strip():
        checks.append(ReproCheck(kind="recorded_input", target=REPRO_SCRIPT))
    return checks


def _pytest_argv(files: list[str], junit: Path) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "--maxfail=0",
            f"--junitxml={junit}", "-o", "junit_family=xunit1", *files]


def file_outcomes(outcomes: dict[str, str], path: str) -> dict[str, str]:
    module = path[:-3].replace("/", ".")
    return {t: o for t, o in outcomes.items()
            if t.startswith(path + "::") or t == module or t.startswith(module + "::")}


def _run_test_file(tree: Path, path: str, sandbox: Sandbox,
                   timeout: float) -> tuple[dict[str, str], CommandRun]:
    with tempfile.TemporaryDirectory(prefix="selfheal-repro-") as scratch:
        junit = Path(scratch) / "repro.xml"
        run = sandbox.run(_pytest_argv([path], junit), tree, timeout=timeout, writable=[Path(scratch)])
        outcomes = file_outcomes(parse_junit(junit) or {}, path)
    return outcomes, run


def run_before(tree: Path, checks: list[ReproCheck], files: dict[str, str], reproduction: str,
               exc_type: str, *, sandbox: Sandbox, timeout: float) -> None:
    """On the UNPATCHED ``tree``: add the new test files / the script and run each (must fail)."""
    for check in checks:
        if check.kind == "regression_test":
            write_files(tree, {check.target: files[check.target]})
            outcomes, run = _run_test_file(tree, check.target, sandbox, timeout)
            _record(check, run, "before")
            if run.timed_out:
                check.detail = "timed out before the patch"
                continue
            if not outcomes:
                # Exit 5: nothing collected. Anything else without results: pytest itself failed
                # (a usage error, a crashed plugin), which says nothing about the defect.
                check.failed_before = False if run.exit_code == 5 else None
                check.detail = ("the new test module collects no tests" if run.exit_code == 5 else
                                f"could not run before the patch (exit {run.exit_code})")
                continue
            check.failed_before = any(o != PASSED for o in outcomes.values())
        else:
            run = _run_script(tree, check, reproduction, "before", sandbox, timeout)
            if run.timed_out:
                check.detail = "timed out before the patch"
                continue
            if _replay_outcomes(run.output_tail) is not None:
                _judge_replay_before(check, exc_type, run)
                continue
            check.failed_before = run.exit_code != 0
        _judge_before(check, exc_type, check.commands[-1].output_tail)


def _replay_outcomes(output: str) -> list[dict[str, object]] | None:
    """The per-input lines a replay script printed, or None for a script that is not one."""
    found = []
    for line in output.splitlines():
        if line.startswith(MARKER + " "):
            try:
                doc = json.loads(line[len(MARKER) + 1:])
            except ValueError:
                continue
            if isinstance(doc, dict):
                found.append(doc)
    return found or None


def _raised(output: str) -> str:
    """What the replay raised, readably: ``IndexError at profiles/app.py in handler``."""
    raised = [o for o in _replay_outcomes(output) or [] if o.get("raised")]
    return "; ".join(f"input {o.get('input')}: {o.get('raised')}"
                     + (f" at {o['where']}" if o.get("where") else "") for o in raised[:3])


def _judge_replay_before(check: ReproCheck, exc_type: str, run: CommandRun) -> None:
    check.replayed = True
    check.expected_error = exc_type.rsplit(".", 1)[-1]
    if run.exit_code not in (EXIT_CLEAN, EXIT_REPRODUCED, EXIT_OTHER):
        check.failed_before = None
        check.detail = f"the replay could not run before the patch (exit {run.exit_code})"
        return
    check.failed_before = run.exit_code != EXIT_CLEAN
    check.shows_error = run.exit_code == EXIT_REPRODUCED
    if not check.failed_before:
        check.detail = "the recorded input does not fail without the patch: it does not reproduce the failure"
    elif not check.shows_error:
        check.detail = (f"the recorded input fails before the patch, but not with {check.expected_error} "
                        f"from the error's frame ({_raised(run.output_tail)})")


def _judge_before(check: ReproCheck, exc_type: str, output: str) -> None:
    """Whether the failure before the patch shows the error's type (in ``output``), and why not."""
    short = exc_type.rsplit(".", 1)[-1]
    check.expected_error = short
    check.shows_error = bool(short) and short in output
    if not check.failed_before:
        check.detail = "passes without the patch: it does not reproduce the failure"
    elif not check.reproduces:
        check.detail = (f"fails before the patch, but its output does not show {short}: "
                        "it may fail for another reason")


def run_within_baseline(tree: Path, checks: list[ReproCheck], files: dict[str, str], command: list[str],
                        exc_type: str, *, sandbox: Sandbox,
                        timeout: float) -> tuple[TestRun | None, list[ReproCheck], CommandRun | None]:
    """One run of the project's tests on the UNPATCHED ``tree`` with the regression tests added:
    the run before the patch and the reproduction before it in one process.

    Returns the baseline (the run with the regression tests' results taken out), or None when
    this run cannot stand for a run of the unpatched tree alone; the checks it settled (the
    others, e.g. a test module the command does not collect, still need their own run); and the
    run when it timed out (see ``settle_timeout``).

    The baseline is kept only when nothing outside the regression tests fails and the run left
    the tree as it found it: a new module that breaks other tests (at import, or by the state it
    leaves) would otherwise make them look broken before the patch too, and a new failure after
    it would not count. It is then a subset of what a separate run would have shown failing
    (none), so later comparisons against it can only be stricter.
    """
    write_files(tree, {c.target: files[c.target] for c in checks})
    fingerprint = snapshot(tree)
    run = run_tests(tree, command, timeout=timeout, sandbox=sandbox)
    if not run.completed or run.outcomes is None or tampered(fingerprint, tree):
        return None, [], run.command if run.command.timed_out else None
    settled: list[ReproCheck] = []
    ids: set[str] = set()
    for check in checks:
        outcomes = file_outcomes(run.outcomes, check.target)
        if not outcomes:
            continue
        ids.update(outcomes)
        check.failed_before = any(o != PASSED for o in outcomes.values())
        _judge_before(check, exc_type, "\n".join(run.details.get(t, "") for t in outcomes))
        settled.append(check)
    rest = {t: o for t, o in run.outcomes.items() if t not in ids}
    clean = run.command.exit_code in (0, 1) and not any(o in (FAILED, ERROR) for o in rest.values())
    if not clean:
        return None, settled, None
    return TestRun(command=run.command, outcomes=rest), settled, None


def settle_timeout(checks: list[ReproCheck], run: CommandRun) -> list[ReproCheck]:
    """The tests before the patch completed alone but timed out with ``checks``' modules added:
    those hang on the unpatched tree (or push the run past the timeout). Either way they are
    inconclusive, as their own run would be had it timed out; running them again would only
    wait for the timeout a second time."""
    for check in checks:
        check.detail = "timed out before the patch (run with the tests before it)"
    if checks:
        checks[0].commands.append(run.model_copy(update={
            "label": f"reproduction before: {', '.join(c.target for c in checks)} (with the tests before)"}))
    return checks


def run_after(tree: Path, checks: list[ReproCheck], after: TestRun, reproduction: str, *,
              sandbox: Sandbox, timeout: float) -> None:
    """On the PATCHED ``tree``: each check must pass (reusing the suite's results when it ran them)."""
    for check in checks:
        if check.failed_before is None:
            continue
        if check.kind == "regression_test":
            outcomes = file_outcomes(after.outcomes or {}, check.target)
            if not outcomes:  # the project's test command does not collect it: run it alone
                outcomes, run = _run_test_file(tree, check.target, sandbox, timeout)
                _record(check, run, "after")
            check.passed_after = bool(outcomes) and all(o == PASSED for o in outcomes.values())
            failing = sorted(t for t, o in outcomes.items() if o != PASSED)
            if failing:
                check.detail = f"fails after the patch: {', '.join(failing[:5])}"
        else:
            run = _run_script(tree, check, reproduction, "after", sandbox, timeout)
            check.passed_after = run.exit_code == 0 and not run.timed_out
            if check.passed_after:
                pass
            elif not check.replayed or run.timed_out:
                check.detail = "the recorded failing input still fails after the patch" + (
                    " (timed out)" if run.timed_out else "")
            elif run.exit_code == EXIT_REPRODUCED:
                check.detail = ("the recorded failing input still raises the error after the patch: "
                                + _raised(run.output_tail))
            elif run.exit_code == EXIT_OTHER:
                check.detail = ("moving the exception is not a fix: after the patch the recorded input "
                                f"raises {_raised(run.output_tail)} (before: {check.expected_error} from the "
                                "error's frame); the handler must finish without raising")
            else:
                check.detail = f"the replay did not finish after the patch (exit {run.exit_code})"
        if check.verifies:
            check.detail = "fails before the patch, passes after"


def _record(check: ReproCheck, run: CommandRun, phase: str) -> None:
    run.label = f"reproduction {phase}: {check.target}"
    check.commands.append(run)


def _run_script(tree: Path, check: ReproCheck, reproduction: str, phase: str, sandbox: Sandbox,
                timeout: float) -> CommandRun:
    """Write the reproduction script into ``tree``, run it and record the run on ``check``."""
    write_files(tree, {REPRO_SCRIPT: reproduction})
    run = sandbox.run([sys.executable, REPRO_SCRIPT], tree, timeout=timeout)
    _record(check, run, phase)
    return run


def gate(checks: list[ReproCheck], newly_passing: list[str],
         after_output: str = "") -> tuple[GateResult, bool]:
    """The reproduction verdict and whether the patch is verified.

    Fails when a reproduction that failed before still fails after; the failing output (the
    replay's own run after the patch, else the tail of the tests after it, ``after_output``)
    goes into the evidence for the repair loop. Verified when some reproduction, or some test of
    the suite that failed before, passes after.
    """
    contradicted = [c for c in checks if c.contradicts]
    verifying = [c for c in checks if c.verifies]
    verified = bool(verifying) or bool(newly_passing)
    evidence: dict[str, object] = {"checks": [c.summary() for c in checks], "newly_passing": newly_passing}
    if contradicted:
        detail = "; ".join(f"{c.target}: {c.detail}" for c in contradicted)
        own = [c.commands[-1].output_tail for c in contradicted if c.kind == "recorded_input"
               and c.commands and c.commands[-1].label.startswith("reproduction after")]
        evidence["output_tail"] = (own[0] if own else after_output)[-3000:]
        return GateResult(gate="reproduction", passed=False, detail=detail, evidence=evidence), False
    if verifying:
        detail = "; ".join(f"{c.target}: {c.detail}" for c in verifying)
    elif newly_passing:
        detail = f"{len(newly_passing)} test(s) that failed before pass after: {', '.join(newly_passing[:5])}"
    elif checks:
        detail = "; ".join(f"{c.target}: {c.detail or 'inconclusive'}" for c in checks)
    else:
        detail = "no reproduction: no regression test in the edit, no recorded failing input"
    return GateResult(gate="reproduction", passed=True, detail=detail, evidence=evidence), verified
