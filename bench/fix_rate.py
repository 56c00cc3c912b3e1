"""Fix rate of selfheal on the crash-bug repositories under ``bench/crashes/``, through the product's path.

For each repository: copy it into a fresh git repository (without ``crash.log`` and ``repro.py``:
production has neither), ingest its ``crash.log`` as ``selfheal ingest`` does (tracebacks,
fingerprints, and the failing input captured from the log when the crash log carries the
invocation's event), then run the fix workflow for each error ingest queues, as ``selfheal fix``
does (the ASL in the local engine, the model, validation with the replay of the captured input,
a branch and a PR record). Nothing is handed to validation that production would not have.

Each pull request opened is then checked independently: the repository's tests and its
``repro.py`` (the case's oracle: it also checks the answer, not just that nothing raises) on the
fix branch, no existing test changed. Outcomes per case:

- fixed: a pull request was opened and the independent check passes;
- wrong: a pull request was opened but the independent check fails;
- abstained: no pull request (the model abstained, validation rejected every candidate, or no
  candidate could be verified, which is the default ``unverified = abstain``).

``--model`` runs the same suite through any provider (``rules``, ``bedrock:ID``,
``anthropic:ID``, ``openai:URL#MODEL``); ``--unverified draft`` opens unverified drafts too.

    python bench/fix_rate.py [NAMES...] [--json] [--model SPEC] [--max-attempts N] [--unverified draft]
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

from selfheal.adapters.artifacts_fs import FsArtifactStore  # noqa: E402
from selfheal.compose.store import build_ingest_service, build_local_store  # noqa: E402
from selfheal.compose.workflow import artifacts_root, run_fix  # noqa: E402
from selfheal.errors import SelfhealError  # noqa: E402
from selfheal.settings import load_settings  # noqa: E402

CRASHES = ROOT / "bench" / "crashes"
HARNESS = "repro.py"  # the case's independent oracle; never in the repository selfheal sees
TIMEOUT = 180.0
RUN_ROOT = Path(tempfile.gettempdir()) / "selfheal-crash-runs"  # = bench/crashes/regen.py


@dataclass
class Case:
    name: str
    path: Path
    description: str
    expected: str  # fix | abstain: whether the defect has a right local fix
    test_command: list[str]
    log_format: str = "none"  # how the crash log carries the event (none: it does not)
    note: str = ""

    @classmethod
    def load(cls, path: Path) -> Case:
        data = json.loads((path / "case.json").read_text())
        cmd = [sys.executable if x == "python" else str(x) for x in data["test_command"]]
        return cls(path.name, path, data["description"], data["expected"], cmd,
                   data.get("log_format", "none"), data.get("expected_note", ""))

    def expected_outcome(self, unverified: str) -> str:
        """fixed when the defect has a right fix and it can be verified (or drafts are allowed)."""
        verifiable = self.log_format != "none" and not self.note
        return "fixed" if self.expected == "fix" and (verifiable or unverified == "draft") else "abstained"


@dataclass
class Outcome:
    name: str
    expected: str
    log_format: str = "none"
    outcome: str = "abstained"  # fixed | abstained | wrong
    captured: int = 0  # tracebacks of the crash log paired with a logged event
    verified: bool = False  # the opened PR was verified (replay or a test that failed before)
    attempts: int = 0
    summary: str = ""
    reason: str = ""
    rejected: list[str] = field(default_factory=list)
    diff: str = ""
    seconds: float = 0.0

    @property
    def matches(self) -> bool:
        return self.outcome == self.expected


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


def _git(tree: Path, *argv: str) -> str:
    proc = _run(["git", *argv], tree)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(argv)} failed: {proc.stderr.strip()}")
    return proc.stdout


def make_repo(case: Case, dest: Path) -> None:
    """The service's repository as its owner has it: no crash log, no replay harness."""
    shutil.copytree(case.path, dest, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", "crash.log", HARNESS))
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", f"{case.name} at the crash")


def _passed(output: str) -> int:
    m = re.search(r"(\d+) passed", output)
    return int(m.group(1)) if m else 0


def independent_check(case: Case, tree: Path, branch: str, baseline_passed: int, scratch: Path) -> str:
    """Empty when the fix branch really fixes the case; else what is wrong with it."""
    changed = _git(tree, "diff", "--name-status", "main", branch).split("\n")
    touched = [line.split("\t")[-1] for line in changed if line[:1] in ("M", "D") and "/tests/" in "/" +
               line.split("\t")[-1]]
    if touched:
        return f"changes existing test files: {', '.join(touched)}"
    where = scratch / f"check-{branch.replace('/', '-')}"
    _git(tree, "worktree", "add", "-q", "--detach", str(where), branch)
    shutil.copy2(case.path / HARNESS, where / HARNESS)
    tests = _run(case.test_command, where)
    if tests.returncode != 0:
        return "tests fail after the patch: " + (tests.stdout.strip().splitlines()[-1:] or [""])[0]
    if _passed(tests.stdout) < baseline_passed:
        return f"fewer tests pass after the patch ({_passed(tests.stdout)} < {baseline_passed})"
    repro = _run([sys.executable, HARNESS], where)
    if repro.returncode != 0:
        return "the repro still fails after the patch"
    return ""


def _validation(settings: Any, path: list[Any]) -> dict[str, Any]:
    refs = [v.artifacts["validation"] for v in path if "validation" in v.artifacts]
    if not refs:
        return {}
    doc: dict[str, Any] = json.loads(FsArtifactStore(artifacts_root(settings)).get_bytes(refs[-1]))
    return doc


def run_case(case: Case, *, model: str, max_attempts: int, unverified: str) -> Outcome:
    started = time.monotonic()
    out = Outcome(case.name, case.expected_outcome(unverified), case.log_format)
    with tempfile.TemporaryDirectory(prefix=f"fixrate-{case.name}-") as tmp:
        tree = Path(tmp) / case.name
        make_repo(case, tree)
        baseline = _passed(_run(case.test_command, tree).stdout)
        settings = load_settings({
            "home": Path(tmp) / "home", "repo": tree, "model": model, "test_command": case.test_command,
            "test_timeout_seconds": TIMEOUT, "max_attempts": max_attempts, "unverified": unverified,
            # where the service ran (the deployment root of the logged paths, like /var/task/)
            "app_roots": [f"{RUN_ROOT}/{case.name}/"],
        }, env={})
        log = (case.path / "crash.log").read_text().splitlines()
        report = build_ingest_service(settings, build_local_store(settings)).ingest_lines(log, "crash.log")
        out.captured = report.captured
        if not report.to_fix:
            out.reason = "ingest found no error to fix"
        problems: list[str] = []
        for fp in report.to_fix:
            fixed = run_fix(settings, fp, model, timeout=900.0)
            rounds = sum(1 for v in fixed.path if v.state == "BuildPrompt")
            out.attempts = max(out.attempts, rounds)
            validation = _validation(settings, fixed.path)
            if fixed.branch and str(fixed.status) == "PR_OPEN":
                out.verified = bool(validation.get("verified"))
                out.diff += _git(tree, "diff", "main", fixed.branch, "--", ".", ":(exclude)tests")
                problem = independent_check(case, tree, fixed.branch, baseline, Path(tmp))
                problems.append(problem)
                out.summary = out.summary or next((r for r in fixed.reasons), "")
            else:
                out.reason = "; ".join(fixed.reasons)[:400] or fixed.error or str(fixed.status)
                out.rejected += [r for r in fixed.reasons if r.startswith("round ")]
        if problems:
            bad = [p for p in problems if p]
            out.outcome, out.reason = ("wrong", "; ".join(bad)) if bad else ("fixed", "")
    out.seconds = round(time.monotonic() - started, 2)
    return out


def print_table(results: list[Outcome], model: str) -> None:
    print(f"{'case':22} {'log':10} {'expected':9} {'outcome':10} {'att':>3}  detail")
    for r in results:
        mark = "" if r.matches else "  (!)"
        detail = ("verified" if r.verified else "UNVERIFIED") if r.outcome != "abstained" else r.reason
        print(f"{r.name:22} {r.log_format:10} {r.expected:9} {r.outcome:10} {r.attempts:>3}  "
              f"{detail[:90]}{mark}")
    counts = Counter(r.outcome for r in results)
    prs = [r for r in results if r.outcome != "abstained"]
    verified = sum(r.verified for r in prs)
    print(
        f"\nfixed {counts['fixed']} / abstained {counts['abstained']} / wrong {counts['wrong']} "
        f"of {len(results)} crash repos (model {model}, through ingest -> fix); "
        f"outcome matches the expectation: {sum(r.matches for r in results)}/{len(results)}"
    )
    with_event = [r for r in results if r.log_format != "none"]
    print(
        f"pull requests {len(prs)}, verified {verified}"
        + (f" ({verified / len(prs):.0%})" if prs else "")
        + f"; crash logs carrying the event {len(with_event)}/{len(results)}, "
        f"input captured {sum(r.captured > 0 for r in with_event)}/{len(with_event)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fix rate of selfheal on bench/crashes/ (ingest -> fix)")
    parser.add_argument("names", nargs="*", help="crash repositories to run (default: all)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--model", default="rules",
                        help="rules | bedrock:ID | anthropic:ID | openai:URL#MODEL")
    parser.add_argument("--max-attempts", type=int, default=4, help="repair rounds per fix")
    parser.add_argument("--unverified", choices=["abstain", "draft"], default="abstain",
                        help="what to do with a fix no reproduction verifies (default: abstain)")
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
            result = run_case(case, model=args.model, max_attempts=args.max_attempts,
                              unverified=args.unverified)
        except (SelfhealError, RuntimeError, subprocess.TimeoutExpired) as exc:
            result = Outcome(case.name, case.expected_outcome(args.unverified), case.log_format,
                             reason=f"bench error: {type(exc).__name__}: {exc}")
        results.append(result)
        if not args.json:
            print(f"  {case.name}: {result.outcome} ({result.seconds}s)", file=sys.stderr)
    if args.json:
        prs = [r for r in results if r.outcome != "abstained"]
        payload: dict[str, Any] = {
            "model": args.model,
            "unverified": args.unverified,
            "results": [asdict(r) | {"matches": r.matches} for r in results],
            "totals": dict(Counter(r.outcome for r in results)),
            "verified_share": (sum(r.verified for r in prs) / len(prs)) if prs else None,
        }
        print(json.dumps(payload, indent=2))
    else:
        print_table(results, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
