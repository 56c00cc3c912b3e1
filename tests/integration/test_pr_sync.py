"""PR sync over real git (LocalGitHost) and the fake GitHub: a merged fix PR resolves its error,
so the error seen again regresses with the merged PR referenced; a closed one fails it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from selfheal.adapters.github import GitHubHost, make_client
from selfheal.adapters.gitlab import GitLabHost
from selfheal.adapters.gitlab import make_client as make_gitlab_client
from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
from selfheal.adapters.local_prs import PrRecordStore
from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.cli import cli
from selfheal.compose.store import build_ingest_service, build_local_store
from selfheal.domain.records import Status
from selfheal.ports import CodeHost, ErrorStore, PullRequest
from selfheal.services.ingest import IngestService
from selfheal.services.pr_sync import sync_pull_requests
from selfheal.services.publish import fix_branch_name, publish_fix
from selfheal.settings import Settings, load_settings
from tests.support.fake_github import FakeGitHub
from tests.support.fake_gitlab import FakeGitLab
from tests.support.git_repos import git, make_bare_repo, make_work_repo
from tests.support.pr_sync_cases import FIXED, TRACE


def _settings(tmp_path: Path, work: Path) -> Settings:
    return load_settings({"home": tmp_path / "home", "repo": work}, env={})


def _ingest(settings: Settings, store: ErrorStore) -> IngestService:
    return build_ingest_service(settings, store)


def _publish_and_open(store: ErrorStore, host: CodeHost, fp: str, base_revision: str,
                      redrive: bool = False, base: str = "main") -> PullRequest:
    """What the fix workflow does for ``fp``: FIXING, branch + PR, then PR_OPEN with both."""
    store.transition(fp, Status.FIXING)
    pr = publish_fix(host, fingerprint=fp, base_branch=base, base_revision=base_revision,
                     files={"app.py": FIXED}, title="fix(selfheal): guard empty values", body="body",
                     redrive=redrive)
    store.transition(fp, Status.PR_OPEN, expected=[Status.FIXING],
                     fields={"branch": pr.branch, "pr_url": pr.url})
    return pr


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[Path, Settings, SqliteErrorStore, LocalGitHost]]:
    work = make_work_repo(tmp_path / "svc")
    settings = _settings(tmp_path, work)
    store = build_local_store(settings)
    yield work, settings, store, LocalGitHost(LocalGitRepository(work), settings.home)


@pytest.mark.parametrize("merge", ["--no-ff", "--ff-only", "--squash"])
def test_merged_fix_resolves_then_regression_references_it(
        local: tuple[Path, Settings, SqliteErrorStore, LocalGitHost], merge: str) -> None:
    work, settings, store, host = local
    (fp,) = _ingest(settings, store).ingest_lines(TRACE.splitlines(), "app.log").new
    pr = _publish_and_open(store, host, fp, host.repository.resolve("main"))
    assert pr.state == "open" and pr.branch == fix_branch_name(fp)

    first = sync_pull_requests(store, host)     # nothing merged yet: unchanged
    assert first.checked == 1 and first.still_open == [fp] and first.resolved == []
    assert store.get(fp).status == Status.PR_OPEN  # type: ignore[union-attr]

    # A reviewer merges the fix with plain git (the user's checkout is on main).
    git(work, "merge", "-q", merge, pr.branch, *(["-m", "merge fix"] if merge == "--no-ff" else []))
    if merge == "--squash":
        git(work, "commit", "-q", "-m", "fix: guard empty values (squashed)")
    assert "if values else 0.0" in (work / "app.py").read_text()

    report = sync_pull_requests(store, host)
    assert report.resolved == [fp] and report.failed == [] and report.problems == []
    rec = store.get(fp)
    assert rec is not None and rec.status == Status.RESOLVED
    assert rec.status_reason == f"fix PR merged: {pr.url}" and rec.pr_url == pr.url
    assert PrRecordStore(settings.home).get(pr.number or 0).state == "merged"  # persisted
    assert sync_pull_requests(store, host).checked == 0  # nothing left in PR_OPEN

    again = _ingest(settings, store).ingest_lines(TRACE.splitlines(), "app.log")
    assert again.regressed == [fp] and again.to_fix == [fp] and again.reasons[fp] == "regressed"
    rec = store.get(fp)
    assert rec is not None and rec.status == Status.REGRESSED and rec.count == 2
    assert rec.previous_pr_url == pr.url

    # The regression's fix gets a new PR; the merged one is not updated.
    second = _publish_and_open(store, host, fp, host.repository.resolve("main"))
    assert second.created and second.number == (pr.number or 0) + 1 and second.state == "open"
    assert sync_pull_requests(store, host).still_open == [fp]


def test_closed_without_merge_fails_the_error(local: tuple[Path, Settings, SqliteErrorStore, LocalGitHost]
                                              ) -> None:
    work, settings, store, host = local
    (fp,) = _ingest(settings, store).ingest_lines(TRACE.splitlines(), "app.log").new
    pr = _publish_and_open(store, host, fp, host.repository.resolve("main"))
    main_before = git(work, "rev-parse", "main")
    PrRecordStore(settings.home).set_state(pr.number or 0, "closed")   # `selfheal prs close N`

    report = sync_pull_requests(store, host)
    assert report.failed == [fp] and report.resolved == [] and report.changes[0].pr_state == "closed"
    rec = store.get(fp)
    assert rec is not None and rec.status == Status.FAILED and rec.pr_url == pr.url
    assert rec.status_reason is not None and rec.status_reason.startswith(
        f"fix PR closed without merge: {pr.url}")
    assert git(work, "rev-parse", "main") == main_before
    # Seen again: counted, not regressed and not queued (a person rejected the fix).
    again = _ingest(settings, store).ingest_lines(TRACE.splitlines(), "app.log")
    assert again.regressed == [] and again.to_fix == []
    assert store.get(fp).status == Status.FAILED  # type: ignore[union-attr]


def test_unmerged_branch_stays_open_and_missing_pr_is_reported(
        local: tuple[Path, Settings, SqliteErrorStore, LocalGitHost]) -> None:
    work, settings, store, host = local
    (fp,) = _ingest(settings, store).ingest_lines(TRACE.splitlines(), "app.log").new
    pr = _publish_and_open(store, host, fp, host.repository.resolve("main"))
    # main moves on without the fix: still open
    (work / "other.py").write_text("x = 1\n")
    git(work, "add", "other.py")
    git(work, "commit", "-q", "-m", "unrelated")
    report = sync_pull_requests(store, host)
    assert report.still_open == [fp] and report.resolved == []
    assert PrRecordStore(settings.home).get(pr.number or 0).state == "open"
    # a host without the PR record (say another home): reported as missing, status unchanged
    other = LocalGitHost(host.repository, settings.home / "elsewhere")
    missing = sync_pull_requests(store, other)
    assert missing.missing == [fp] and store.get(fp).status == Status.PR_OPEN  # type: ignore[union-attr]


def test_github_merged_and_closed(tmp_path: Path) -> None:
    store = SqliteErrorStore(tmp_path / "errors.db")
    settings = load_settings({"home": tmp_path / "home"}, env={})
    svc = build_ingest_service(settings, store)
    other_trace = TRACE.replace("ZeroDivisionError: division by zero", "KeyError: 'values'") \
        .replace('line 2, in average\n    return sum(values) / len(values)\n', "")
    (fp_merged,) = svc.ingest_lines(TRACE.splitlines(), "a").new
    (fp_closed,) = svc.ingest_lines(other_trace.splitlines(), "a").new
    with FakeGitHub(make_bare_repo(tmp_path / "remote.git")).serve() as gh:
        host = GitHubHost("acme/svc", client=make_client("test-token", gh.base_url, throttle=False))
        merged = _publish_and_open(store, host, fp_merged, host.resolve())
        closed = _publish_and_open(store, host, fp_closed, host.resolve())
        assert sorted(sync_pull_requests(store, host).still_open) == sorted([fp_merged, fp_closed])
        gh.close_pull(merged.number or 0, merged=True)
        gh.close_pull(closed.number or 0)
        report = sync_pull_requests(store, host)
    assert report.resolved == [fp_merged] and report.failed == [fp_closed]
    rec = store.get(fp_merged)
    assert rec is not None and rec.status == Status.RESOLVED
    assert rec.status_reason == f"fix PR merged: {merged.url}"
    again = svc.ingest_lines(TRACE.splitlines(), "a")
    assert again.to_fix == [fp_merged]
    assert store.get(fp_merged).previous_pr_url == merged.url  # type: ignore[union-attr]
    assert store.get(fp_closed).status == Status.FAILED  # type: ignore[union-attr]


def test_gitlab_merged_merge_request_resolves(tmp_path: Path) -> None:
    store = SqliteErrorStore(tmp_path / "errors.db")
    svc = build_ingest_service(load_settings({"home": tmp_path / "home"}, env={}), store)
    (fp,) = svc.ingest_lines(TRACE.splitlines(), "a").new
    with FakeGitLab(make_bare_repo(tmp_path / "remote.git", branch="trunk")).serve() as gl:
        host = GitLabHost("acme/svc", client=make_gitlab_client("test-token", gl.url))
        mr = _publish_and_open(store, host, fp, host.resolve(), base="trunk")
        assert sync_pull_requests(store, host).still_open == [fp]
        gl.close_mr(mr.number or 0, merged=True)
        report = sync_pull_requests(store, host)
    assert report.resolved == [fp] and report.changes[0].pr_url == mr.url
    assert svc.ingest_lines(TRACE.splitlines(), "a").regressed == [fp]
    assert store.get(fp).previous_pr_url == mr.url  # type: ignore[union-attr]


def test_code_host_failure_is_reported_and_others_still_sync(tmp_path: Path) -> None:
    store = SqliteErrorStore(tmp_path / "errors.db")
    svc = build_ingest_service(load_settings({"home": tmp_path / "home"}, env={}), store)
    (fp,) = svc.ingest_lines(TRACE.splitlines(), "a").new
    with FakeGitHub(make_bare_repo(tmp_path / "remote.git")).serve() as gh:
        host = GitHubHost("acme/svc", client=make_client("test-token", gh.base_url, throttle=False))
        pr = _publish_and_open(store, host, fp, host.resolve())
        gh.close_pull(pr.number or 0, merged=True)
        gh.inject(503, "down", method="GET", path=r"/pulls")
        failed = sync_pull_requests(store, host)
        assert failed.problems and failed.changes[0].pr_state == "error"
        assert store.get(fp).status == Status.PR_OPEN  # type: ignore[union-attr]
        assert sync_pull_requests(store, host).resolved == [fp]  # the next sync catches up


def test_cli_prs_sync_json(local: tuple[Path, Settings, SqliteErrorStore, LocalGitHost]) -> None:
    work, settings, store, host = local
    (fp,) = _ingest(settings, store).ingest_lines(TRACE.splitlines(), "app.log").new
    pr = _publish_and_open(store, host, fp, host.repository.resolve("main"))
    runner = CliRunner()
    args = ["prs", "sync", "--home", str(settings.home), "--repo", str(work)]
    before = runner.invoke(cli, args, env={"COLUMNS": "200", "SELFHEAL_HOME": None, "SELFHEAL_REPO": None})
    assert before.exit_code == 0, before.output
    assert pr.branch in before.output and "1 checked: 0 resolved, 0 failed, 1 still open" in before.output
    git(work, "merge", "-q", "--no-ff", "-m", "merge fix", pr.branch)
    out = runner.invoke(cli, [*args, "--json"], env={"SELFHEAL_HOME": None, "SELFHEAL_REPO": None})
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["checked"] == 1 and data["resolved"] == [fp]
    assert data["changes"][0]["pr_state"] == "merged" and data["changes"][0]["status"] == "RESOLVED"
    assert store.get(fp).status == Status.RESOLVED  # type: ignore[union-attr]
    table = runner.invoke(cli, args, env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "nothing in PR_OPEN" in table.output


def test_remote_repository_merge_on_the_server_is_seen(tmp_path: Path) -> None:
    """A cloned remote (file:// here, ssh:// alike): the fix branch is pushed, a person merges
    it on the server, and the sync fetches before deciding."""
    origin = make_bare_repo(tmp_path / "origin.git")
    settings = load_settings({"home": tmp_path / "home", "repo_url": f"file://{origin}"}, env={})
    store = build_local_store(settings)
    repo = LocalGitRepository(f"file://{origin}", cache_dir=settings.home / "repos")
    host = LocalGitHost(repo, settings.home)
    (fp,) = _ingest(settings, store).ingest_lines(TRACE.splitlines(), "app.log").new
    pr = _publish_and_open(store, host, fp, repo.resolve("main"))
    assert git(origin, "rev-parse", "--verify", f"refs/heads/{pr.branch}")
    assert sync_pull_requests(store, host).still_open == [fp]
    reviewer = tmp_path / "reviewer"
    git(tmp_path, "clone", "-q", str(origin), str(reviewer))
    git(reviewer, "merge", "-q", "--no-ff", "-m", "merge fix", f"origin/{pr.branch}")
    git(reviewer, "push", "-q", "origin", "main")
    assert sync_pull_requests(store, host).resolved == [fp]
    assert store.get(fp).status == Status.RESOLVED  # type: ignore[union-attr]
