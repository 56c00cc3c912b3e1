"""ValidatePatch on the Lambda runtime: packages come from a layer that the runtime's bootstrap
puts on ``sys.path`` (not ``PYTHONPATH``), and neither bubblewrap nor ``unshare`` exists.

Reproduced here with a bare interpreter (``/usr/bin/python3 -s``, no pytest of its own) whose
bootstrap inserts the "layer" (our site-packages) and the "task root" (this checkout) into
``sys.path``, a ``PATH`` that holds git alone, and the product's validation path. The sandboxed
test process must find pytest, the patch must verify, and the verdict and the pull request body
must say which protections are missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from datetime import UTC, datetime
from pathlib import Path

import pytest

from selfheal.domain.pr_body import PrBodyInput, render_pr_body
from selfheal.domain.records import ErrorRecord
from selfheal.domain.validation_report import ValidationReport
from selfheal.validation.render import render_markdown
from tests.support import validation_repo as vr

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")

BOOTSTRAP = r'''
import json
import sys

config = json.loads(sys.argv[1])
sys.path[:0] = config["layer"]  # what Lambda's bootstrap does for /opt/python; PYTHONPATH is unset

from pathlib import Path

from selfheal.adapters.local_git import LocalGitRepository
from selfheal.domain.edit_format import parse_reply
from selfheal.domain.fixing import FixContext
from selfheal.settings import Settings
from selfheal.validation.service import BaselineCache, validate_candidate

repo = LocalGitRepository(Path(config["project"]))
context = FixContext(fingerprint="f" * 64, exc_type="ZeroDivisionError", message="division by zero",
                     trace=config["trace"], offered_files=["calc/stats.py"])
settings = Settings.model_validate({"home": config["home"], "test_command": ["python", "-m", "pytest", "-q"],
                                    "test_timeout_seconds": 120.0})
proposal = parse_reply(config["reply"], ["calc/stats.py"])
report = validate_candidate(repo, repo.resolve("HEAD"), context, proposal, settings, cache=BaselineCache())
print("REPORT " + report.model_dump_json())
'''


def test_tests_run_with_the_layer_on_a_bare_runtime(tmp_path: Path) -> None:
    if not SYSTEM_PYTHON.exists():
        pytest.skip("needs /usr/bin/python3 as the bare runtime interpreter")
    bare = subprocess.run([str(SYSTEM_PYTHON), "-s", "-c", "import pytest"], capture_output=True, check=False)
    if bare.returncode == 0:
        pytest.skip("/usr/bin/python3 has pytest of its own: it cannot stand for a bare runtime")
    version = subprocess.run([str(SYSTEM_PYTHON), "-c", "import sys; print(tuple(sys.version_info[:2]))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    if version != str(tuple(sys.version_info[:2])):
        pytest.skip(f"/usr/bin/python3 is {version}; the installed packages are for {sys.version_info[:2]}")
    project = vr.make_project(tmp_path / "proj")
    bin_dir = tmp_path / "bin"  # git only: no bwrap, no unshare, as on Lambda
    bin_dir.mkdir()
    git = next(Path(d) / "git" for d in os.environ["PATH"].split(os.pathsep) if (Path(d) / "git").exists())
    (bin_dir / "git").symlink_to(git)
    config = {"layer": [str(REPO_ROOT), sysconfig.get_paths()["purelib"]], "project": str(project),
              "home": str(tmp_path / "home"), "reply": vr.GOOD_REPLY, "trace": vr.TRACE}
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    proc = subprocess.run([str(SYSTEM_PYTHON), "-s", "-c", BOOTSTRAP, json.dumps(config)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("REPORT ")), None)
    assert line is not None, proc.stderr[-3000:]
    report = ValidationReport.model_validate_json(line[len("REPORT "):])
    tails = "\n".join(c.output_tail for c in report.commands)
    assert "No module named pytest" not in tails
    assert report.valid and report.verified, report.feedback
    assert report.tests_after is not None and report.tests_after.passed == 4
    missing = ["mounts not locked: bubblewrap (bwrap) is not installed",
               "network isolation unavailable: the unshare binary is missing"]
    for note in missing:
        assert any(n.startswith(note) for n in report.sandbox_notes), report.sandbox_notes
    verdict = render_markdown(report)
    seen = datetime(2026, 12, 1, tzinfo=UTC)
    record = ErrorRecord(fingerprint="f" * 32, exc_type="ZeroDivisionError", message="division by zero",
                         first_seen=seen, last_seen=seen)
    body = render_pr_body(PrBodyInput(record=record, report=report))
    for text in (verdict, body):
        assert "mounts not locked" in text and "network isolation unavailable" in text
