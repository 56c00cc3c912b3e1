"""Where the CLI keeps state without ``--home`` (issue 13, point 6), and repositories matched
however they are spelled (point 4). Real subprocess runs from inside and outside a repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
from selfheal.adapters.local_prs import PrRecordStore, repository_key
from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.cli.state import repo_home, state_root
from selfheal.domain.records import Status
from selfheal.services.publish import publish_fix
from tests.support.git_repos import git, make_work_repo
from tests.support.pr_sync_cases import FIXED, TRACE

SELFHEAL = [sys.executable, "-c", "from selfheal.cli import main; main()"]


def run(args: list[str], cwd: Path, state: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
    return subprocess.run([*SELFHEAL, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**clean, "XDG_STATE_HOME": str(state), "COLUMNS": "200", **env})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = make_work_repo(tmp_path / "svc")
    (tmp_path / "app.log").write_text(TRACE)
    return work


def test_state_goes_to_the_per_user_folder_never_into_the_repository(repo: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    log = tmp_path / "app.log"
    done = run(["ingest", str(log), "--repo", ".", "--json"], cwd=repo, state=state)
    assert done.returncode == 0, done.stderr
    assert git(repo, "status", "--porcelain", "--ignored") == ""  # nothing untracked, nothing ignored
    home = repo_home(repo, state / "selfheal")
    assert (home / "errors.db").is_file() and home.parent == state / "selfheal" / "repos"
    assert home.name.startswith("svc-")

    # The same store from inside the repository without --repo, and from elsewhere with
    # --repo spelled differently.
    inside = run(["errors", "--json"], cwd=repo / "tests" if (repo / "tests").is_dir() else repo, state=state)
    by_subfolder = run(["errors", "--json", "--repo", str(repo / "tests")], cwd=tmp_path, state=state)
    assert by_subfolder.returncode == 0 and len(json.loads(by_subfolder.stdout)) == 1, by_subfolder.stderr
    elsewhere = run(["errors", "--repo", f"{repo}/../{repo.name}/", "--json"], cwd=tmp_path, state=state)
    assert inside.returncode == 0 and elsewhere.returncode == 0, inside.stderr + elsewhere.stderr
    assert len(json.loads(inside.stdout)) == 1 and json.loads(inside.stdout) == json.loads(elsewhere.stdout)

    # Outside any repository and without --repo: the default store, which says where the others are.
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    empty = run(["errors"], cwd=outside, state=state)
    assert empty.returncode == 0 and f"no errors recorded in {state / 'selfheal' / 'default'}" in empty.stdout
    assert str(home) in empty.stderr and "--repo" in empty.stderr
    fp = json.loads(inside.stdout)[0]["fingerprint"]
    missing = run(["errors", "show", fp[:8]], cwd=outside, state=state)
    assert missing.returncode == 1 and f"(searched {state / 'selfheal' / 'default'}; other stores: {home})" \
        in missing.stderr


def test_selfheal_home_and_home_flag_win(repo: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    log = str(tmp_path / "app.log")
    by_env = run(["ingest", log], cwd=repo, state=state, SELFHEAL_HOME=str(tmp_path / "h1"))
    by_flag = run(["ingest", log, "--home", str(tmp_path / "h2")], cwd=repo, state=state)
    assert by_env.returncode == 0 and by_flag.returncode == 0
    assert (tmp_path / "h1" / "errors.db").is_file() and (tmp_path / "h2" / "errors.db").is_file()
    assert not (state / "selfheal").exists()


def test_an_existing_dot_selfheal_keeps_working_with_a_notice(tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / ".selfheal").mkdir(parents=True)
    (tmp_path / "app.log").write_text(TRACE)
    done = run(["ingest", str(tmp_path / "app.log")], cwd=old, state=tmp_path / "state")
    assert done.returncode == 0, done.stderr
    assert (old / ".selfheal" / "errors.db").is_file()
    notice = [line for line in done.stderr.splitlines() if ".selfheal" in line]
    assert len(notice) == 1 and "earlier version" in notice[0]


def test_default_state_root_honours_xdg_and_falls_back_to_home() -> None:
    assert state_root({"XDG_STATE_HOME": "/x/state"}) == Path("/x/state/selfheal")
    assert state_root({}) == Path.home() / ".local" / "state" / "selfheal"
    assert state_root({"XDG_STATE_HOME": "relative"}) == Path.home() / ".local" / "state" / "selfheal"


def test_repository_key_matches_spellings(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    spellings = [str(work), f"{work}/", f"{tmp_path}/./svc", f"file://{work}"]
    assert len({repository_key(s) for s in spellings}) == 1
    assert repository_key("git@example.com:org/svc.git") == repository_key("git@example.com:org/svc")
    assert repository_key("ssh://git@example.com/org/svc.git/") == "ssh://git@example.com/org/svc"


def test_prs_sync_with_repo_dot_matches_records_written_with_an_absolute_path(tmp_path: Path) -> None:
    """Issue 13 point 4: the first run named the repository one way, ``prs sync --repo .``
    another; the merged fix still resolves its error."""
    work = make_work_repo(tmp_path / "svc")
    state = tmp_path / "state"
    (tmp_path / "app.log").write_text(TRACE)
    ingested = run(["ingest", str(tmp_path / "app.log"), "--repo", str(work)], cwd=tmp_path, state=state)
    assert ingested.returncode == 0, ingested.stderr
    home = repo_home(work, state / "selfheal")
    store = SqliteErrorStore(home / "errors.db")
    (record,) = store.list()
    fp = record.fingerprint
    host = LocalGitHost(LocalGitRepository(str(work)), home)  # recorded with the absolute path
    store.transition(fp, Status.FIXING)
    pr = publish_fix(host, fingerprint=fp, base_branch="main", base_revision=host.repository.resolve("main"),
                     files={"app.py": FIXED}, title="fix", body="body")
    store.transition(fp, Status.PR_OPEN, fields={"branch": pr.branch, "pr_url": pr.url})
    git(work, "merge", "-q", "--no-ff", "-m", "merge fix", pr.branch)

    synced = run(["prs", "sync", "--repo", ".", "--json"], cwd=work, state=state)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["resolved"] == [fp]
    assert store.get(fp).status == Status.RESOLVED  # type: ignore[union-attr]
    assert [r.number for r in PrRecordStore(home, repository=".").all()] == []  # "." here is elsewhere
    assert [r.number for r in PrRecordStore(home, repository=f"{work}/").all()] == [pr.number]


def test_inside_a_repository_it_is_the_default_repo(repo: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from selfheal.cli.common import cli_settings

    for name in ("SELFHEAL_REPO", "SELFHEAL_REPO_URL", "SELFHEAL_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (repo / "pkg").mkdir()
    monkeypatch.chdir(repo / "pkg")
    settings = cli_settings()
    assert settings.repo == repo.resolve()
    assert settings.home == repo_home(repo, tmp_path / "state" / "selfheal")
    monkeypatch.chdir(tmp_path)
    assert cli_settings().repo is None


@pytest.mark.timeout(300)
def test_a_fix_run_inside_the_repository_leaves_only_its_branch(tmp_path: Path) -> None:
    """No --repo, no --home, run from a subfolder of the repository: the fix opens its PR and
    `git status` (ignored files included) stays empty; the only new ref is the fix branch."""
    from tests.e2e.test_fix_cli import HANDLER, KEYERROR_EVENT_LOG, TESTS

    work = make_work_repo(tmp_path / "orders", files={"orders/__init__.py": "", "orders/handler.py": HANDLER,
                                                      "tests/test_handler.py": TESTS})
    state = tmp_path / "state"
    (tmp_path / "app.log").write_text(KEYERROR_EVENT_LOG)  # with the captured input: a verified fix
    ingested = run(["ingest", str(tmp_path / "app.log"), "--json"], cwd=work / "orders", state=state)
    assert ingested.returncode == 0, ingested.stderr
    (fp,) = json.loads(ingested.stdout)["new"]
    fixed = run(["fix", fp[:8], "--json"], cwd=work / "orders", state=state)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["status"] == "PR_OPEN"
    assert git(work, "status", "--porcelain", "--ignored") == ""
    branches = git(work, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    assert sorted(branches) == ["main", f"selfheal/{fp[:12]}"]
    assert (repo_home(work, state / "selfheal") / "prs").is_dir()
