"""Regenerate ``crash.log`` of every crash repository by really running its reproduction.

Each repository is copied to ``<tmp>/selfheal-crash-runs/<name>`` (the "deployment" root seen in
the logged paths, as a service runs from ``/var/task`` rather than from its git checkout). Its
own tests must pass and ``repro.py`` (the independent oracle) must fail there. The crash log is
what production wrote: when ``case.json`` names a ``handler``, an ``event`` and a ``log_format``
other than ``none``, ``lambda_runtime.py`` invokes the handler once with the event and prints the
Lambda log in that format (the event logged with the traceback); otherwise the output of
``repro.py`` is the log (no event: the fix cannot be verified by replay).

    python bench/crashes/regen.py            # all repositories
    python bench/crashes/regen.py billing_usage --check   # verify only, write nothing
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN_ROOT = Path(tempfile.gettempdir()) / "selfheal-crash-runs"
TIMEOUT = 120


def scrubbed_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update({"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "TZ": "UTC"})
    return env


def repos(names: list[str]) -> list[Path]:
    found = sorted(p for p in HERE.iterdir() if (p / "case.json").is_file())
    if names:
        found = [p for p in found if p.name in names]
        missing = set(names) - {p.name for p in found}
        if missing:
            raise SystemExit(f"no crash repository named {', '.join(sorted(missing))}")
    return found


def command(case: dict[str, object]) -> list[str]:
    cmd = [str(x) for x in case["test_command"]]  # type: ignore[attr-defined]
    return [sys.executable if x == "python" else x for x in cmd]


def lambda_log(case: dict[str, object], run_dir: Path) -> tuple[str, bool]:
    """The Lambda log of one invocation of the case's handler with its event (and whether it failed)."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "lambda_runtime.py"), str(case["handler"]), str(case["event"]),
         "--format", str(case["log_format"])],
        cwd=run_dir, env=scrubbed_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )
    return proc.stdout + proc.stderr, proc.returncode == 1


def regen(repo: Path, check: bool) -> str:
    case = json.loads((repo / "case.json").read_text())
    run_dir = RUN_ROOT / repo.name
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(repo, run_dir, ignore=shutil.ignore_patterns("crash.log", "__pycache__", ".pytest_cache"))
    try:
        tests = subprocess.run(
            command(case),
            cwd=run_dir,
            env=scrubbed_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if tests.returncode != 0:
            return f"FAIL: tests do not pass on the good paths\n{tests.stdout[-2000:]}"
        proc = subprocess.run(
            [sys.executable, "repro.py"],
            cwd=run_dir,
            env=scrubbed_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if proc.returncode == 0:
            return "FAIL: the repro no longer fails"
        log = proc.stdout + proc.stderr
        if case.get("log_format", "none") != "none":
            log, failed = lambda_log(case, run_dir)
            if not failed:
                return f"FAIL: the handler did not fail under the Lambda runtime harness\n{log[-2000:]}"
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    if "Traceback (most recent call last)" not in log and "stackTrace" not in log:
        return "FAIL: the repro failed without a traceback"
    if not check:
        (repo / "crash.log").write_text(log)
    return f"ok (repro exit {proc.returncode}, {len(log.splitlines())} log lines)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="crash repositories to regenerate (default: all)")
    parser.add_argument("--check", action="store_true", help="verify only; do not write crash.log")
    args = parser.parse_args(argv)
    failed = 0
    for repo in repos(args.names):
        result = regen(repo, args.check)
        failed += result.startswith("FAIL")
        print(f"{repo.name:24} {result}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
