"""Every user mistake of issue 13 ends in one line on standard error that names the path or
setting and says what to do, with no class name and no traceback, and a documented exit code
(``selfheal.cli.common.ExitCode``)."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.cli import main
from selfheal.cli.common import ExitCode, outcome_exit_code
from selfheal.domain.records import Observation, Status, StepRecord
from tests.support.git_repos import make_work_repo

CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+(?:Error|Found|Transition|Malformed|Settings)?:")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("SELFHEAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    yield


def one_line_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``selfheal args``; return (exit code, the single stderr line)."""
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("error: ") and "Traceback" not in line, line
    assert not CLASS_NAME.search(line), line
    code = info.value.code
    assert isinstance(code, int)
    return code, line


def test_a_log_that_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = one_line_error(["ingest", "/nonexistent.log"], capsys)
    assert code == ExitCode.USAGE and "/nonexistent.log" in line and "does not exist" in line


def test_watch_given_a_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = make_work_repo(tmp_path / "R", files={"app.py": "x = 1\n"})
    code, line = one_line_error(["watch", "/tmp", "--repo", str(repo)], capsys)
    assert code == ExitCode.USAGE and "'/tmp' is a directory" in line and "selfheal watch --help" in line


def test_home_that_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    code, line = one_line_error(["errors", "--home", str(tmp_path / "afile")], capsys)
    assert code == ExitCode.USAGE and f"{tmp_path / 'afile'} is a file; give a folder" in line
    code, line = one_line_error(["ingest", "-", "--home", str(tmp_path / "afile" / "sub")], capsys)
    assert code == ExitCode.USAGE and f"{tmp_path / 'afile'} is a file" in line


def test_demo_dir_that_cannot_be_created(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = one_line_error(["demo", "--dir", "/proc/nope", "--json"], capsys)
    assert code == ExitCode.USAGE and "cannot use /proc/nope" in line


def _recorded_run(home: Path) -> str:
    store = SqliteErrorStore(home / "errors.db")
    fp = "ab" * 32
    store.observe(Observation(fingerprint=fp, exc_type="KeyError", message="'x'"))
    store.transition(fp, Status.FIXING)
    store.start_attempt(fp, None)
    store.record_step(fp, 1, StepRecord(state="FetchSource", started_at=datetime.now(UTC),
                                        outcome="succeeded"))
    store.finish_attempt(fp, 1, outcome="failed", failed_state="BuildPrompt")
    return f"{fp[:12]}-1"


def test_svg_into_a_missing_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = _recorded_run(home)
    code, line = one_line_error(["executions", "show", run, "--home", str(home), "--svg",
                                 "/missing-dir/x.svg"], capsys)
    assert code == ExitCode.USAGE and "/missing-dir/x.svg" in line and "No such file or directory" in line


def test_setting_from_the_environment(capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFHEAL_MAX_ATTEMPTS", "abc")
    code, line = one_line_error(["errors"], capsys)
    assert code == ExitCode.USAGE
    assert line == ("error: setting max_attempts (from SELFHEAL_MAX_ATTEMPTS): 'abc' is not a whole number; "
                    "for example SELFHEAL_MAX_ATTEMPTS=3")


def test_settings_in_pyproject(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = make_work_repo(tmp_path / "svc",
                          files={"pyproject.toml": '[tool.selfheal]\ntest_command = "pytest -q"\n'})
    code, line = one_line_error(["errors", "--repo", str(repo)], capsys)
    assert code == ExitCode.USAGE and "setting test_command" in line and str(repo / "pyproject.toml") in line
    assert 'write it like test_command = ["python", "-m", "pytest", "-x", "-q"]' in line
    other = make_work_repo(tmp_path / "svc2", files={"pyproject.toml": "[tool.selfheal]\ntest_commnd = []\n"})
    code, line = one_line_error(["ingest", "-", "--repo", str(other)], capsys)
    assert code == ExitCode.USAGE and "unknown setting 'test_commnd'" in line
    assert "docs/configuration.md" in line


def test_ambiguous_prefix_is_worded_the_same_everywhere(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = SqliteErrorStore(home / "errors.db")
    for fp in ("abc1" + "0" * 60, "abc2" + "0" * 60):
        store.observe(Observation(fingerprint=fp, exc_type="KeyError", message="'x'"))
    repo = make_work_repo(tmp_path / "svc", files={"app.py": "x = 1\n"})
    lines = set()
    for args in (["errors", "show", "abc"], ["errors", "ignore", "abc"], ["fix", "abc", "--repo", str(repo)],
                 ["redrive", "abc", "--repo", str(repo)], ["executions", "abc"]):
        code, line = one_line_error([*args, "--home", str(home)], capsys)
        assert code == ExitCode.ERROR
        lines.add(line)
    assert lines == {"error: 'abc' matches more than one error (abc100000000, abc200000000); "
                     "give more characters"}


def test_click_usage_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = one_line_error(["errors", "--nope"], capsys)
    assert code == ExitCode.USAGE and "No such option '--nope'" in line
    assert "(see: selfheal errors --help)" in line
    code, line = one_line_error(["frobnicate"], capsys)
    assert code == ExitCode.USAGE and "No such command 'frobnicate'" in line


def test_a_repo_that_is_not_a_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, line = one_line_error(["fix", "abc", "--repo", str(tmp_path / "nope")], capsys)
    assert code == ExitCode.USAGE and f"{tmp_path / 'nope'} does not exist" in line


def test_outcomes_map_to_exit_codes() -> None:
    assert outcome_exit_code(Status.PR_OPEN) == 0
    assert outcome_exit_code(Status.ABSTAINED) == ExitCode.ABSTAINED == 3
    assert outcome_exit_code(Status.FAILED) == ExitCode.ERROR == 1
    assert outcome_exit_code("FIXING") == ExitCode.ERROR  # a run that did not end is not success


def test_interrupted_is_130(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*_args: object, **_kw: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr("selfheal.cli.errors._list", interrupt)
    code, line = one_line_error(["errors", "--home", str(tmp_path / "h")], capsys)
    assert code == ExitCode.INTERRUPTED and line == "error: interrupted"


def test_an_edit_file_not_in_the_edit_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = make_work_repo(tmp_path / "svc", files={"app.py": "x = 1\n"})
    edit = tmp_path / "fix.txt"
    edit.write_text("I think you should use .get()\n")
    code, line = one_line_error(["validate", "--repo", str(repo), "--edit", str(edit)], capsys)
    assert code == ExitCode.USAGE and str(edit) in line and "see the edit format in docs/usage.md" in line


def test_executions_lists_one_errors_runs_with_options_anywhere(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    import json

    home = tmp_path / "home"
    run = _recorded_run(home)
    for args in (["executions", "--home", str(home), "abab", "--json"],
                 ["executions", "abab", "--home", str(home), "--json"],
                 ["executions", "--json", "list", "abab", "--home", str(home)]):
        main(args)
        assert [e["execution"] for e in json.loads(capsys.readouterr().out)] == [run], args


def test_a_store_that_is_not_a_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "errors.db").write_text("not sqlite at all " * 100)
    code, line = one_line_error(["errors", "--home", str(home)], capsys)
    assert code == ExitCode.ERROR and f"cannot open the error store {home / 'errors.db'}" in line
    assert "choose another --home" in line


def test_a_pyproject_that_is_not_toml(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = make_work_repo(tmp_path / "svc", files={"pyproject.toml": "[tool.selfheal\ntest_command = [\n"})
    code, line = one_line_error(["errors", "--repo", str(repo)], capsys)
    assert code == ExitCode.USAGE and f"{repo / 'pyproject.toml'} is not valid TOML" in line


def test_aws_mode_without_credentials(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, line = one_line_error(["executions", "--table", "errors"], capsys)
    assert code == ExitCode.ERROR and line.startswith("error: AWS: ") and "credentials" in line


def test_fix_with_a_repo_that_is_not_git(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    code, line = one_line_error(["fix", "abc", "--repo", str(plain)], capsys)
    assert code == ExitCode.USAGE and f"{plain} is not in a git repository" in line
