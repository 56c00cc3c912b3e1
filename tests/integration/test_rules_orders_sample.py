"""The rules fixer on the bundled demo service (selfheal/samples/orders): replay its recorded
traffic, take every distinct crash through extract -> fingerprint -> context -> RulesFixer, apply
attempt 1, and check no test of the service breaks, fewer fail, and the crashes are gone."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from selfheal.adapters.local_git import LocalGitRepository
from selfheal.domain.context import build_context
from selfheal.domain.edit_format import apply_proposal, parse_reply
from selfheal.domain.extract import extract_from_text
from selfheal.domain.fingerprint import FingerprintConfig, fingerprint
from selfheal.domain.fixing import FixContext, Prompt
from selfheal.domain.records import ErrorRecord
from selfheal.fixers import RulesFixer
from selfheal.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "selfheal" / "samples" / "orders"
GIT_ENV = ["-c", "user.name=t", "-c", "user.email=t@localhost"]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def _replay(tree: Path, log: Path) -> tuple[int, str]:
    proc = _run([sys.executable, "-m", "orders.replay", "requests.jsonl", "--log", str(log)], tree)
    assert proc.returncode == 0, proc.stderr
    failed = re.search(r"(\d+) failed with 500", proc.stdout)
    assert failed, proc.stdout
    return int(failed.group(1)), log.read_text()


def _failing_tests(tree: Path) -> set[str]:
    """Ids of the sample's failing tests (its suite may replay the crashing requests too)."""
    proc = _run([sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider"], tree)
    assert proc.returncode in (0, 1), proc.stdout[-3000:]
    return {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("FAILED ")}


def _contexts(tree: Path, text: str) -> list[FixContext]:
    repo = LocalGitRepository(tree)
    root = f"{tree}/"
    out: dict[str, FixContext] = {}
    for tb in extract_from_text(text):
        fp = fingerprint(tb, FingerprintConfig(app_roots=(root,)))
        if fp.id in out:
            continue
        record = ErrorRecord(fingerprint=fp.id, exc_type=fp.exc_type, message=tb.final.message,
                             frames=list(fp.in_app_frames), sample_trace=tb.raw, count=1)
        out[fp.id] = build_context(record, repo, settings=Settings(app_roots=[root]))
    return list(out.values())


@pytest.mark.timeout(600)
def test_rules_fix_the_demo_crashes(tmp_path):
    if not (SAMPLE / "requests.jsonl").is_file():
        pytest.skip("the orders sample is not present")
    tree = tmp_path / "orders"
    shutil.copytree(SAMPLE, tree, ignore=shutil.ignore_patterns("__pycache__", "logs", ".pytest_cache"))
    for argv in (["git", "init", "-q"], ["git", "add", "-A"], ["git", *GIT_ENV, "commit", "-qm", "sample"]):
        assert _run(argv, tree).returncode == 0
    failing_before = _failing_tests(tree)
    failed_before, log = _replay(tree, tmp_path / "before.log")
    assert failed_before > 0
    contexts = _contexts(tree, log)
    by_type = {c.exc_type: c for c in contexts}
    assert {"KeyError", "ZeroDivisionError", "IndexError", "AttributeError"} <= set(by_type)

    fixer = RulesFixer()
    files = {p: (tree / p).read_text() for p in {p for c in contexts for p in c.offered_files}}
    fixed_types = []
    for ctx in contexts:
        reply = fixer.complete(Prompt(system="", user="", context=ctx))
        proposal = parse_reply(reply.text, ctx.offered_files)
        if proposal.abstained:
            continue
        files.update(apply_proposal(files, proposal))
        fixed_types.append(ctx.exc_type)
        if ctx.message == "'order_items'":
            assert 'order.get("order_items", [])' in files["orders/handler.py"]
    assert {"IndexError", "KeyError", "ZeroDivisionError"} <= set(fixed_types)
    for path, text in files.items():
        (tree / path).write_text(text)

    failing_after = _failing_tests(tree)
    assert failing_after <= failing_before, "the fixes broke tests that passed"
    assert not failing_before or len(failing_after) < len(failing_before)
    failed_after, log_after = _replay(tree, tmp_path / "after.log")
    assert failed_after < failed_before
    remaining = {tb.final.type for tb in extract_from_text(log_after)}
    assert not remaining & {"KeyError", "ZeroDivisionError", "IndexError"}
