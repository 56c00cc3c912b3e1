"""Fix rate of the offline ``rules`` fixer on the crash-bug repositories under ``bench/crashes/``.

For each repository: copy it into a fresh git repository, extract the traceback from its
``crash.log``, fingerprint it, build the fix context from the source at HEAD, then ask the rules
fixer for attempt 1, 2, ... Each candidate goes through patch validation
(``selfheal.validation.validate_candidate``: gates, the project's tests before/after in a sandbox,
the recorded failing input ``repro.py`` before/after); the first accepted one is then checked
independently (tests and repro re-run here, no test file changed, no test lost). Outcomes:

- fixed: a candidate was accepted and the independent check passes;
- wrong: a candidate was accepted but the independent check fails (tests or repro fail, or a
  test was deleted/weakened);
- abstained: the fixer abstained, or validation rejected every candidate.

``--no-validate`` accepts the first candidate that applies and parses, to show what the fixer
alone would do. ``repro.py`` is the harness that replays the input (in production the caller is
the web framework): its frames are dropped like library frames and it is never offered for edit.

    python bench/fix_rate.py [NAMES...] [--json] [--no-validate] [--max-attempts N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selfheal.adapters.local_git import LocalGitRepository  # noqa: E402
from selfheal.domain.context import build_context  # noqa: E402
from selfheal.domain.edit_format import apply_proposal, is_test_path, parse_reply  # noqa: E402
from selfheal.domain.extract import extract_from_text  # noqa: E402
from selfheal.domain.fingerprint import FingerprintConfig, fingerprint  # noqa: E402
from selfheal.domain.fixing import EditProposal, FixContext, Prompt  # noqa: E402
from selfheal.domain.records import ErrorRecord  # noqa: E402
from selfheal.errors import SelfhealError, SourceNotFound  # noqa: E402
from selfheal.fixers import RulesFixer  # noqa: E402
from selfheal.settings import Settings  # noqa: E402
from selfheal.validation.service import validate_candidate  # noqa: E402

CRASHES = ROOT / "bench" / "crashes"
HARNESS = "repro.py"
TIMEOUT = 180.0


@dataclass
class Case:
    name: str
    path: Path
    description: str
    expected: str
    test_command: list[str]

    @classmethod
    def load(cls, path: Path) -> Case:
        data = json.loads((path / "case.json").read_text())
        cmd = [sys.executable if x == "python" else str(x) for x in data["test_command"]]
        return cls(path.name, path, data["description"], data["expected"], cmd)


@dataclass
class Outcome:
    name: str
    expected: str
    outcome: str = "abstained"  # fixed | abstained | wrong
    attempts: int = 0
    summary: str = ""
    reason: str = ""
    rejected: list[str] = field(default_factory=list)
    diff: str = ""
    seconds: float = 0.0

    @property
    def matches(self) -> bool:
        return (self.outcome == "fixed") == (self.expected == "fix")


def _env() -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update(
        {
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "TZ": "UTC",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@localhost",
        }
    )
    return env


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def make_repo(case: Case, dest: Path) -> None:
    shutil.copytree(
        case.path, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "crash.log")
    )
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", f"{case.name} at the crash"],
    ):
        proc = _run(argv, dest)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


def app_root(frames: list[str], repo_files: list[str]) -> str:
    """The deployment root of the logged paths: the prefix before a repository path suffix."""
    roots: Counter[str] = Counter()
    for file in frames:
        for rel in repo_files:
            if file.endswith("/" + rel):
                roots[file[: -len(rel)]] += 1
    return roots.most_common(1)[0][0] if roots else "/nonexistent/"


def fix_context(case: Case, repo: LocalGitRepository, settings: Settings) -> FixContext:
    """Extract -> fingerprint -> error record -> context, as the pipeline does."""
    log = (case.path / "crash.log").read_text()
    tracebacks = extract_from_text(log)
    if not tracebacks:
        raise RuntimeError("crash.log holds no traceback")
    tb = tracebacks[0]  # the crash; a "--- Logging error ---" block may add a "Call stack" pseudo-trace
    files = repo.list_files(repo.resolve())
    root = app_root([f.file for link in tb.chain for f in link.frames], files)
    fp = fingerprint(tb, FingerprintConfig(app_roots=(root,)))
    frames = [f for f in fp.in_app_frames if f.file != HARNESS]
    record = ErrorRecord(
        fingerprint=fp.id,
        exc_type=fp.exc_type,
        message=tb.final.message,
        frames=frames,
        sample_trace=tb.raw,
        count=1,
    )
    reproduction = (case.path / HARNESS).read_text()
    try:
        ctx = build_context(record, repo, settings=settings.model_copy(update={"app_roots": [root]}))
    except SourceNotFound as exc:
        ctx = FixContext(
            fingerprint=fp.id, exc_type=fp.exc_type, message=tb.final.message, trace=tb.raw, notes=[str(exc)]
        )
    return ctx.model_copy(update={"reproduction": reproduction})


def _passed(output: str) -> int:
    m = re.search(r"(\d+) passed", output)
    return int(m.group(1)) if m else 0


def independent_check(case: Case, tree: Path, proposal: EditProposal, baseline_passed: int) -> str:
    """Empty when the accepted patch really fixes the case; else what is wrong with it."""
    current = {e.path: (tree / e.path).read_text() for e in proposal.edits if (tree / e.path).is_file()}
    changed = apply_proposal(current, proposal)
    touched_tests = [p for p in changed if is_test_path(p) and p in current]
    if touched_tests:
        return f"changes existing test files: {', '.join(touched_tests)}"
    for path, text in changed.items():
        (tree / path).write_text(text)
    tests = _run(case.test_command, tree)
    if tests.returncode != 0:
        return "tests fail after the patch: " + (tests.stdout.strip().splitlines()[-1:] or [""])[0]
    if _passed(tests.stdout) < baseline_passed:
        return f"fewer tests pass after the patch ({_passed(tests.stdout)} < {baseline_passed})"
    repro = _run([sys.executable, HARNESS], tree)
    if repro.returncode != 0:
        return "the repro still fails after the patch"
    return ""


def run_case(case: Case, *, validate: bool, max_attempts: int) -> Outcome:
    started = time.monotonic()
    out = Outcome(case.name, case.expected)
    with tempfile.TemporaryDirectory(prefix=f"fixrate-{case.name}-") as tmp:
        tree = Path(tmp) / case.name
        make_repo(case, tree)
        baseline = _passed(_run(case.test_command, tree).stdout)
        repo = LocalGitRepository(tree)
        revision = repo.resolve()
        settings = Settings(
            test_command=case.test_command, test_timeout_seconds=TIMEOUT, unverified="abstain"
        )
        ctx = fix_context(case, repo, settings)
        fixer = RulesFixer()
        accepted: EditProposal | None = None
        for attempt in range(1, max_attempts + 1):
            out.attempts = attempt
            reply = fixer.complete(Prompt(system="", user="", attempt=attempt, context=ctx))
            proposal = parse_reply(reply.text, ctx.offered_files)
            if proposal.abstained:
                out.reason = proposal.abstain_reason or ""
                break
            out.summary = proposal.summary
            if not validate:
                accepted = proposal
                break
            report = validate_candidate(repo, revision, ctx, proposal, settings)
            if report.valid:
                accepted = proposal
                break
            failed = next((g for g in report.gates if not g.passed), None)
            out.rejected.append(
                f"#{attempt} {proposal.summary} -> {failed.gate if failed else '?'}: "
                f"{failed.detail if failed else report.feedback}"[:300]
            )
        else:
            out.reason = f"validation rejected all {max_attempts} candidate(s)"
        if accepted is None:
            out.summary = ""
            if out.rejected and not out.reason.startswith("validation"):
                out.reason = f"validation rejected {len(out.rejected)} candidate(s); then: {out.reason}"
        else:
            out.diff = "\n".join(
                f"--- {e.path}\n-{e.search.rstrip()}\n+{e.replace.rstrip()}" for e in accepted.edits
            )
            problem = independent_check(case, tree, accepted, baseline)
            out.outcome, out.reason = ("wrong", problem) if problem else ("fixed", "")
    out.seconds = round(time.monotonic() - started, 2)
    return out


def print_table(results: list[Outcome], validate: bool) -> None:
    print(f"{'case':22} {'expected':9} {'outcome':10} {'att':>3}  detail")
    for r in results:
        mark = "" if r.matches else "  (!)"
        detail = r.summary if r.outcome == "fixed" else r.reason
        print(f"{r.name:22} {r.expected:9} {r.outcome:10} {r.attempts:>3}  {detail[:100]}{mark}")
    counts = Counter(r.outcome for r in results)
    matched = sum(r.matches for r in results)
    want_fix = [r for r in results if r.expected == "fix"]
    want_abstain = [r for r in results if r.expected != "fix"]
    accepted = counts["fixed"] + counts["wrong"]
    print(
        f"\nfixed {counts['fixed']} / abstained {counts['abstained']} / wrong {counts['wrong']} "
        f"of {len(results)} crash repos ({'validated' if validate else 'NOT validated'}); "
        f"outcome matches case.json: {matched}/{len(results)}"
    )
    print(
        f"fix rate on fixable bugs: {sum(r.outcome == 'fixed' for r in want_fix)}/{len(want_fix)}; "
        f"abstained where a fix would be wrong: {sum(r.outcome == 'abstained' for r in want_abstain)}"
        f"/{len(want_abstain)}; precision of accepted edits: "
        f"{counts['fixed']}/{accepted}" + (f" = {counts['fixed'] / accepted:.2f}" if accepted else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fix rate of the rules fixer on bench/crashes/")
    parser.add_argument("names", nargs="*", help="crash repositories to run (default: all)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--no-validate", action="store_true", help="accept the first candidate unvalidated")
    parser.add_argument("--max-attempts", type=int, default=4)
    args = parser.parse_args(argv)
    cases = [Case.load(p) for p in sorted(CRASHES.iterdir()) if (p / "case.json").is_file()]
    if args.names:
        unknown = set(args.names) - {c.name for c in cases}
        if unknown:
            parser.error(f"no crash repository named {', '.join(sorted(unknown))}")
        cases = [c for c in cases if c.name in args.names]
    results = []
    for case in cases:
        try:
            result = run_case(case, validate=not args.no_validate, max_attempts=args.max_attempts)
        except (SelfhealError, RuntimeError, subprocess.TimeoutExpired) as exc:
            result = Outcome(case.name, case.expected, outcome="abstained", reason=f"bench error: {exc}")
        results.append(result)
        if not args.json:
            print(f"  {case.name}: {result.outcome} ({result.seconds}s)", file=sys.stderr)
    if args.json:
        payload: dict[str, Any] = {
            "validated": not args.no_validate,
            "results": [asdict(r) | {"matches": r.matches} for r in results],
            "totals": dict(Counter(r.outcome for r in results)),
        }
        print(json.dumps(payload, indent=2))
    else:
        print_table(results, not args.no_validate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
