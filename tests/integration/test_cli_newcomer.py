"""The mistakes a newcomer makes on a second look at the CLI (issue 13, re-checked): each ends in
one line on standard error with a documented exit code, or is not a mistake at all; ``--json``
is on every command and prints one JSON document and nothing else on standard output."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

import click
import pytest

from selfheal.adapters.local_prs import PrRecordStore
from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.cli import LAZY_COMMANDS, cli, main
from selfheal.cli.common import ExitCode
from selfheal.domain.records import Observation
from tests.integration.test_cli_mistakes import _clean_env, _recorded_run, one_line_error
from tests.support.git_repos import make_work_repo

__all__ = ["_clean_env"]  # the autouse fixture: no SELFHEAL_* variables, a private state folder


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    """Run ``selfheal args`` that must succeed; its whole standard output is one JSON document."""
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code in (0, None), (args, capsys.readouterr())
    return json.loads(capsys.readouterr().out)


def _observe(home: Path, fingerprint: str) -> None:
    SqliteErrorStore(home / "errors.db").observe(Observation(fingerprint=fingerprint, exc_type="KeyError",
                                                             message="'k'"))


def test_bare_selfheal_prints_the_help_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    out, err = capsys.readouterr()
    assert info.value.code == ExitCode.OK
    assert out.startswith("Usage: selfheal") and "Commands:" in out and err == ""


def test_an_unknown_model_is_a_usage_mistake_before_any_work(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_work_repo(tmp_path / "svc", files={"app.py": "x = 1\n"})
    home = tmp_path / "home"
    _observe(home, "ab" * 32)
    code, line = one_line_error(["fix", "abab", "--repo", str(repo), "--home", str(home), "--model", "bogus"],
                                capsys)
    assert code == ExitCode.USAGE and "unknown model 'bogus'" in line and "rules | bedrock" in line
    code, line = one_line_error(["watch", "app.log", "--repo", str(repo), "--model", "openai:nohash"], capsys)
    assert code == ExitCode.USAGE and "write openai:BASE_URL#MODEL" in line
    monkeypatch.setenv("SELFHEAL_MODEL", "nope")
    with pytest.raises(SystemExit) as info:
        main(["redrive", "abab", "--repo", str(repo), "--home", str(home)])
    out, err = capsys.readouterr()
    assert info.value.code == ExitCode.USAGE and out == ""  # nothing started: no "re-driving" line
    assert "SELFHEAL_MODEL" in err and "unknown model 'nope'" in err
    code, line = one_line_error(["watch", "app.log", "--repo", str(repo)], capsys)
    assert code == ExitCode.USAGE and "SELFHEAL_MODEL" in line


def test_status_commands_print_json_and_asking_twice_is_not_a_mistake(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    home = tmp_path / "home"
    _observe(home, "cd" * 32)
    doc = run_json(["errors", "resolve", "cdcd", "--home", str(home), "--json"], capsys)
    assert isinstance(doc, dict) and doc["status"] == "RESOLVED" and doc["fingerprint"] == "cd" * 32
    main(["errors", "resolve", "cdcd", "--home", str(home)])
    assert capsys.readouterr().out == "cdcdcdcdcdcd is already RESOLVED\n"
    doc = run_json(["errors", "queue", "cdcd", "--home", str(home), "--json"], capsys)
    assert isinstance(doc, dict) and doc["status"] == "QUEUED"


def test_prs_close_prints_json_and_will_not_close_a_merged_pr(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = PrRecordStore(home)
    for branch in ("selfheal/aaa", "selfheal/bbb"):
        store.open(branch=branch, base="main", title="fix", body="b", labels=[], draft=True, head=None)
    store.set_state(2, "merged")
    doc = run_json(["prs", "close", "1", "--home", str(home), "--json"], capsys)
    assert isinstance(doc, dict) and doc["state"] == "closed" and doc["number"] == 1
    code, line = one_line_error(["prs", "close", "2", "--home", str(home)], capsys)
    assert code == ExitCode.ERROR and line == "error: pull request #2 was merged; it cannot be closed"
    assert store.get(2).state == "merged"
    for command in ("show", "close"):
        code, line = one_line_error(["prs", command, "9", "--home", str(home)], capsys)
        assert code == ExitCode.ERROR and line.endswith("no local pull request #9 in "
                                                        f"{home / 'prs'}; list them with: selfheal prs")


def test_prs_sync_without_a_repository_is_a_usage_mistake(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = one_line_error(["prs", "sync"], capsys)  # the test runs in a folder that is not a repository
    assert code == ExitCode.USAGE and "pass --repo PATH" in line


def test_validate_path_and_revision_mistakes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = make_work_repo(tmp_path / "svc", files={"pkg/app.py": "x = 1\n"})
    edit = tmp_path / "fix.txt"
    edit.write_text("<<<<<<< SEARCH pkg/app.py\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    code, line = one_line_error(["validate", "--repo", str(plain), "--edit", str(edit)], capsys)
    assert code == ExitCode.USAGE and f"{plain} is not in a git repository" in line
    code, line = one_line_error(["validate", "--repo", str(repo), "--edit", str(edit), "--revision", "nope"],
                                capsys)
    assert code == ExitCode.USAGE and f"'nope' is no commit of {repo}" in line and "--revision" in line
    binary = tmp_path / "fix.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe")
    code, line = one_line_error(["validate", "--repo", str(repo), "--edit", str(binary)], capsys)
    assert code == ExitCode.USAGE and f"{binary} is not UTF-8 text" in line
    # a folder inside the repository is the repository (as for `fix`): the edit is checked there
    with pytest.raises(SystemExit):  # exit 1: unverified (no regression test), not a path mistake
        main(["validate", "--repo", str(repo / "pkg"), "--edit", str(edit), "--test-command", "true",
              "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert {g["gate"]: g["passed"] for g in doc["gates"]}.get("applies") is True, doc["gates"]


def test_parse_and_ingest_say_a_wrong_path_alike(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for command in ("parse", "ingest"):
        code, line = one_line_error([command, str(tmp_path / "nope.log")], capsys)
        assert code == ExitCode.USAGE and str(tmp_path / "nope.log") in line
        assert "give the path of a log file" in line
        code, line = one_line_error([command, str(tmp_path)], capsys)
        assert code == ExitCode.USAGE and str(tmp_path) in line and "give the path of a log file" in line


def test_a_demo_folder_in_use_is_a_usage_mistake(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    used = tmp_path / "demo"
    used.mkdir()
    (used / "orders-service").mkdir()  # the first demo's
    code, line = one_line_error(["demo", "--dir", str(used)], capsys)
    assert code == ExitCode.USAGE and f"{used} is in use" in line and "leave --dir out" in line


def test_executions_show_takes_an_error_id(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = _recorded_run(home)
    doc = run_json(["executions", "show", "abab", "--home", str(home), "--json"], capsys)
    assert isinstance(doc, dict) and doc["execution"] == run
    for continuation in (f"{run}-c1", f"{run}-c12"):  # as `watch` names the run that ended
        doc = run_json(["executions", "show", continuation, "--home", str(home), "--json"], capsys)
        assert isinstance(doc, dict) and doc["execution"] == run
    code, line = one_line_error(["executions", "show", f"{run}-cx", "--home", str(home)], capsys)
    assert code == ExitCode.ERROR and "no execution" in line
    _observe(home, "ef" * 32)
    code, line = one_line_error(["executions", "show", "efef", "--home", str(home)], capsys)
    assert code == ExitCode.ERROR and line == ("error: efefefefefef has no fix runs yet; start one with: "
                                              "selfheal fix efefefefefef")


def _every_command() -> list[str]:
    ctx = click.Context(cli)
    paths = []
    for name in LAZY_COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        paths.append(name)
        if isinstance(command, click.Group):
            paths += [f"{name} {sub}" for sub in command.commands]
    return paths


@pytest.mark.parametrize("path", _every_command())
def test_every_command_takes_json(path: str) -> None:
    command: click.Command = cli
    for word in path.split():
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), word)
        assert found is not None
        command = found
    assert any("--json" in p.opts for p in command.params if isinstance(p, click.Option)), path


def test_listings_print_one_json_document_and_nothing_else(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = _recorded_run(home)
    log = tmp_path / "app.log"
    log.write_text('Traceback (most recent call last):\n  File "/app/x.py", line 1, in f\nKeyError: \'k\'\n')
    at = ["--home", str(home), "--json"]
    for args in (["errors", *at], ["errors", "list", *at], ["errors", "show", "abab", *at],
                 ["executions", *at], ["executions", "list", "abab", *at], ["executions", "show", run, *at],
                 ["prs", *at], ["ingest", str(log), *at], ["parse", str(log), "--json"]):
        doc = run_json(args, capsys)
        assert isinstance(doc, (dict, list)), args


def test_ingest_from_a_terminal_says_it_reads_standard_input(tmp_path: Path) -> None:
    """Typed bare in a terminal, ``selfheal ingest`` says what it waits for (a real pty)."""
    leader, follower = os.openpty()
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    env = {k: v for k, v in env.items() if not k.startswith("SELFHEAL_")}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("selfheal")), "ingest", "--json"],
                            stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=tmp_path)
    os.close(follower)
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "no hint on standard error"
        hint = proc.stderr.readline().decode()
        assert "reading a log from standard input until Ctrl-D" in hint
        os.write(leader, b"\x04")  # Ctrl-D: end of input
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert proc.returncode == 0 and json.loads(out)["tracebacks"] == 0


def test_a_quoted_tilde_is_the_home_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``--home '~/x'``, zsh's ``--repo=~/src/orders`` or ``SELFHEAL_HOME=~/x`` from a unit file
    reach selfheal with the ``~``: it means the user's home, never a folder named ``~`` here."""
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    (tmp_path / "me").mkdir()
    main(["errors", "--home", "~/state"])
    assert capsys.readouterr().out.strip() == f"no errors recorded in {tmp_path / 'me' / 'state'}"
    assert not (tmp_path / "~").exists()  # the test runs in tmp_path
    code, line = one_line_error(["fix", "abab", "--repo=~/src/orders"], capsys)
    assert code == ExitCode.USAGE and f"{tmp_path / 'me' / 'src' / 'orders'} does not exist" in line
    monkeypatch.setenv("SELFHEAL_HOME", "~/from-env")  # as a unit or .env file passes it
    main(["errors"])
    assert capsys.readouterr().out.strip() == f"no errors recorded in {tmp_path / 'me' / 'from-env'}"
    assert not (tmp_path / "~").exists()
