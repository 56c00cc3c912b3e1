"""``selfheal validate`` on real repositories, and the report renderers on real reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from selfheal.adapters.local_git import LocalGitRepository
from selfheal.cli import cli
from selfheal.domain.validation_report import GateResult, ValidationReport
from selfheal.validation.render import render_markdown, render_text
from selfheal.validation.service import BaselineCache, validate_candidate
from tests.support import validation_repo as vr

BREAKING = ("<<<<<<< SEARCH calc/stats.py\n    return (ordered[mid - 1] + ordered[mid]) / 2\n=======\n"
            "    return ordered[mid]\n>>>>>>> REPLACE\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = vr.make_project(tmp_path / "proj")
    (path / "pyproject.toml").write_text('[tool.selfheal]\ntest_command = ["python", "-m", "pytest", "-q"]\n')
    vr.commit_all(path, "config")
    return path


def test_cli_json_for_a_good_edit(project: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text(vr.GOOD_REPLY)
    result = CliRunner().invoke(cli, ["validate", "--repo", str(project), "--edit", str(reply), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["valid"] is True and doc["verified"] is True
    assert [c["label"] for c in doc["commands"]][:2] == ["tests before", "tests after"]
    # The command came from [tool.selfheal] in the target repository (no -x given there).
    assert doc["commands"][1]["argv"][1:4] == ["-m", "pytest", "-q"]


def test_cli_table_and_exit_status_for_a_breaking_edit(project: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text(BREAKING)
    result = CliRunner().invoke(cli, ["validate", "--repo", str(project), "--edit", str(reply)])
    out, code = result.output, result.exit_code
    assert code == 1, out
    assert "REJECTED at gate 'tests'" in out
    assert "test_median_even" in out


def test_cli_rejects_a_reply_naming_a_file_outside_the_offer(project: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text(BREAKING)
    result = CliRunner().invoke(cli, ["validate", "--repo", str(project), "--edit", str(reply),
                                      "--offer", "calc/__init__.py", "--json"])
    assert result.exit_code != 0
    assert "only the offered files" in str(result.exception)


def test_markdown_is_fenced_and_escaped(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    hostile_test = ("<<<<<<< SEARCH tests/test_evil.py\n=======\n"
                    "def test_evil():\n    print('```\\n<script>alert(1)</script> | AKIAABCDEFGHIJKLMNOP')\n"
                    "    assert False, '```html <img src=x> AKIAABCDEFGHIJKLMNOP'\n>>>>>>> REPLACE\n")
    report = vr_validate(repo, rev, vr.FIX_ONLY_REPLY + hostile_test)
    # a new test failing before and after the patch contradicts it: the reproduction gate's
    # verdict, not a new test failure (issue #14)
    assert report.failed_gate == "reproduction"
    md = render_markdown(report)
    assert "**Validation: ❌ REJECTED at gate 'reproduction'**" in md
    assert "AKIAABCDEFGHIJKLMNOP" not in md  # redacted
    assert "<img" not in md.split("<details>")[0]  # table cells escape HTML
    body = md.split("<summary>Output of the failing check</summary>")[1]
    fence_line = body.strip().splitlines()[0]
    assert fence_line.startswith("````")  # longer than the backtick run inside the output
    text = render_text(report)
    assert "[FAIL] reproduction" in text and "Feedback for the next attempt:" in text


def vr_validate(repo: LocalGitRepository, rev: str, reply: str) -> ValidationReport:
    return validate_candidate(repo, rev, vr.context(), vr.proposal(reply), vr.settings(),
                              cache=BaselineCache())


def test_render_text_of_a_gate_only_report() -> None:
    report = ValidationReport(valid=False, failed_gate="lint", gates=[
        GateResult(gate="non_empty", passed=True, detail="1 changing block(s)"),
        GateResult(gate="lint", passed=False, detail="app.py:3: undefined name 'x'")],
        feedback="Your previous edit was rejected by the 'lint' check")
    text = render_text(report)
    assert text.splitlines()[0].startswith("Validation: REJECTED at gate 'lint'")
    assert "tests before: not run" in text
    md = render_markdown(report)
    assert "| lint | **FAIL** | app.py:3: undefined name 'x' | 0 |" in md


def test_cli_reproduction_script_verifies_a_fix_without_a_test(project: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text(vr.FIX_ONLY_REPLY)
    script = tmp_path / "repro.py"
    script.write_text("from calc.stats import average\naverage([])\n")
    result = CliRunner().invoke(cli, ["validate", "--repo", str(project), "--edit", str(reply), "--json",
                                      "--reproduction", str(script), "--error-type", "ZeroDivisionError"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["verified"] is True
    assert doc["gates"][-1]["evidence"]["checks"][0]["kind"] == "recorded_input"
    labels = [c["label"] for c in doc["commands"]]
    assert "reproduction before: _selfheal_reproduction.py" in labels
    assert "reproduction after: _selfheal_reproduction.py" in labels
