"""How much validation adds over running the project's tests: target ratio <= 1.5.

Generates a small git repository (a package plus 50 tests and a known bug), then, interleaved
so both see the same machine load:

- ``direct``: the test command (settings default, ``python -m pytest -x -q``) run plainly in a
  checkout of the repository;
- ``validate (cold)``: ``validate_candidate`` of a fix plus its regression test with an empty
  baseline cache (every gate, the run before the patch, the run after it, the reproduction);
- ``validate (warm)``: the same again with the same cache, as in a repair loop that keeps its
  regression test (the run before the patch and the test's run before it are both cached);
- ``warm, new test``: the run before the patch cached, but a regression test never seen before,
  which must run on the unpatched tree;
- ``fix only (warm)``: the fix without a regression test, baseline cached: one sandboxed test
  run plus the gates, i.e. the pure overhead of validation over the test command.

Prints the median of each and its ratio to ``direct``. Usage:
``.venv/bin/python bench/validation_overhead.py [--repeats 5] [--tests 50]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selfheal.adapters.local_git import LocalGitRepository  # noqa: E402
from selfheal.domain.edit_format import parse_reply  # noqa: E402
from selfheal.domain.fixing import FixContext  # noqa: E402
from selfheal.settings import Settings  # noqa: E402
from selfheal.validation.service import BaselineCache, validate_candidate  # noqa: E402

MODULE = '''\
def average(values):
    return sum(values) / len(values)


def scale(values, factor):
    return [v * factor for v in values]


def clamp(value, low, high):
    return max(low, min(high, value))
'''

TEST_TEMPLATE = '''\
import pytest

from shop.maths import average, clamp, scale


@pytest.mark.parametrize("n", range({count}))
def test_scale_{index}(n):
    assert scale([n, n + 1], 2) == [2 * n, 2 * n + 2]
    assert clamp(n, 0, 5) == min(max(n, 0), 5)
    assert average([n, n + 2]) == n + 1
'''

REPLY = '''\
ROOT CAUSE: average divides by zero for an empty list.
<<<<<<< SEARCH shop/maths.py
    return sum(values) / len(values)
=======
    if not values:
        return 0.0
    return sum(values) / len(values)
>>>>>>> REPLACE
<<<<<<< SEARCH tests/test_regression_average.py
=======
from shop.maths import average


def test_empty_average_is_zero():
    assert average([]) == 0.0
>>>>>>> REPLACE
'''


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


def make_repo(path: Path, tests: int) -> None:
    files = {"shop/__init__.py": "", "shop/maths.py": MODULE, "tests/__init__.py": ""}
    per_file = 10
    for index in range((tests + per_file - 1) // per_file):
        count = min(per_file, tests - index * per_file)
        files[f"tests/test_maths_{index}.py"] = TEST_TEMPLATE.format(count=count, index=index)
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "bench repo")


def time_direct(repo: LocalGitRepository, rev: str, command: list[str]) -> float:
    argv = [sys.executable if command[0] in ("python", "python3") else command[0], *command[1:]]
    with repo.checkout(rev) as tree:
        started = time.perf_counter()
        proc = subprocess.run(argv, cwd=tree, capture_output=True, timeout=600)
        elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"direct test run failed:\n{proc.stdout.decode()[-2000:]}")
    return elapsed


def time_validation(repo: LocalGitRepository, rev: str, settings: Settings, cache: BaselineCache,
                    reply: str = REPLY) -> float:
    context = FixContext(fingerprint="bench", exc_type="ZeroDivisionError", message="division by zero",
                         offered_files=["shop/maths.py"])
    proposal = parse_reply(reply, ["shop/maths.py"])
    started = time.perf_counter()
    report = validate_candidate(repo, rev, context, proposal, settings, cache=cache)
    elapsed = time.perf_counter() - started
    if not report.valid or (reply == REPLY and not report.verified):
        raise SystemExit(f"validation did not pass: {report.failed_gate}: {report.feedback}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tests", type=int, default=50)
    args = parser.parse_args()
    # The "fix only" case has no reproduction: measured as a valid (draft) patch, not abstained.
    settings = Settings(unverified="draft")
    with tempfile.TemporaryDirectory(prefix="selfheal-bench-") as tmp:
        path = Path(tmp) / "repo"
        path.mkdir()
        make_repo(path, args.tests)
        repo = LocalGitRepository(path)
        rev = repo.resolve("HEAD")
        time_direct(repo, rev, settings.test_command)  # warm the file cache and bytecode once
        fix_only = REPLY.split("<<<<<<< SEARCH tests/")[0]
        direct, cold, warm, fresh, lone = [], [], [], [], []
        for repeat in range(args.repeats):
            direct.append(time_direct(repo, rev, settings.test_command))
            cold.append(time_validation(repo, rev, settings, BaselineCache()))
            cache = BaselineCache()
            time_validation(repo, rev, settings, cache)
            warm.append(time_validation(repo, rev, settings, cache))
            other_test = REPLY.replace("def test_empty_average_is_zero", f"def test_empty_average_{repeat}")
            fresh.append(time_validation(repo, rev, settings, cache, other_test))
            lone.append(time_validation(repo, rev, settings, cache, fix_only))
    base = statistics.median(direct)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"repository: {args.tests} tests; test command: {' '.join(settings.test_command)}; "
          f"repeats: {args.repeats}; CPUs: {os.cpu_count()}; load average: {load}")
    print(f"{'run':<18}{'median s':>10}{'ratio':>8}")
    for name, values in (("direct", direct), ("validate (cold)", cold), ("validate (warm)", warm),
                         ("warm, new test", fresh), ("fix only (warm)", lone)):
        med = statistics.median(values)
        print(f"{name:<18}{med:>10.2f}{med / base:>8.2f}")
    for name, values in (("cold", cold), ("warm", warm), ("warm, new test", fresh), ("fix only", lone)):
        ratio = statistics.median(values) / base
        print(f"target <= 1.5 x direct, {name}: {'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f})")
    print("cold runs two test processes at once (before with the regression test, after); warm, new "
          "test runs two (after, the regression test on the unpatched tree); on a loaded 2-CPU machine "
          "they compete for the cores.")


if __name__ == "__main__":
    main()
