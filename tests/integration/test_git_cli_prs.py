"""``selfheal prs``: list, show and close local pull request records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
from selfheal.cli import cli, main
from selfheal.services.publish import publish_fix
from tests.support.git_repos import APP_PY, make_work_repo


@pytest.fixture
def home(tmp_path: Path) -> Path:
    repo = LocalGitRepository(make_work_repo(tmp_path / "svc"))
    host = LocalGitHost(repo, tmp_path / "home")
    for fp in ("aaaaaaaaaaaa1111", "bbbbbbbbbbbb2222"):
        publish_fix(host, fingerprint=fp, base_branch="main", base_revision=repo.resolve(),
                    files={"app.py": APP_PY + f"# {fp}\n"}, title=f"fix {fp[:4]}", body=f"Body of {fp}")
    return tmp_path / "home"


def test_list_table_and_json(home: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["prs", "--home", str(home)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "selfheal/aaaaaaaaaaaa" in table.output and "fix bbbb" in table.output
    out = runner.invoke(cli, ["prs", "--home", str(home), "--json"])
    rows = json.loads(out.output)
    assert [r["number"] for r in rows] == [1, 2] and rows[0]["state"] == "open" and "body" not in rows[0]


def test_show_close_and_filter(home: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["prs", "show", "2", "--home", str(home)])
    assert shown.exit_code == 0 and shown.output.startswith("# #2 fix bbbb")
    assert "Body of bbbb" in shown.output
    as_json = json.loads(runner.invoke(cli, ["prs", "show", "1", "--home", str(home), "--json"]).output)
    assert as_json["body"] == "Body of aaaaaaaaaaaa1111"
    closed = runner.invoke(cli, ["prs", "close", "1", "--home", str(home)])
    assert closed.exit_code == 0 and "closed #1" in closed.output
    listed = runner.invoke(cli, ["prs", "--home", str(home), "--state", "open", "--json"])
    only_open = json.loads(listed.output)
    assert [r["number"] for r in only_open] == [2]


def test_empty_and_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no pull requests yet" in CliRunner().invoke(cli, ["prs", "--home", str(tmp_path)]).output
    with pytest.raises(SystemExit) as info:
        main(["prs", "show", "7", "--home", str(tmp_path)])
    assert info.value.code == 1
    assert capsys.readouterr().err.strip().startswith("error: no local pull request #7")
