"""Rate limits honoured by the workflow (issue #17): the fake GitHub answers CommitBranch and
OpenPullRequest with 403/429 and a ``retry-after``; the fix waits as told — a short wait inside
the execution (the RateLimitWait state), one more in a new execution after a queue delay — and
then opens its PR, with one model call and one request per try (no hammering)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selfheal.adapters.github import GitHubHost, GitHubRepository, make_client
from selfheal.domain.records import Status
from selfheal.services.workflow.runner import ProgressEvent, run_execution
from tests.support.fake_github import FakeGitHub
from tests.support.git_repos import make_bare_repo
from tests.support.workflow_fakes import (
    APP,
    APP_TEXT,
    GOOD_REPLY,
    ScriptedModel,
    local_engine,
    make_services,
    seed_error,
)


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(make_bare_repo(tmp_path / "remote.git", files={APP: APP_TEXT})).serve() as server:
        yield server


def _services(tmp_path: Path, gh: FakeGitHub, model: ScriptedModel) -> Any:
    client = make_client("test-token", gh.base_url, throttle=False)
    svc = make_services(tmp_path, model=model)
    return dataclasses.replace(svc, source=GitHubRepository("acme/svc", client=client),
                               code_host=GitHubHost("acme/svc", client=client))


def _posts(gh: FakeGitHub, suffix: str) -> int:
    return sum(1 for method, path in gh.requests if method == "POST" and path.endswith(suffix))


@pytest.mark.timeout(120)
def test_rate_limited_commit_and_pull_request_wait_as_told_then_open_the_pr(tmp_path: Path,
                                                                            gh: FakeGitHub) -> None:
    model = ScriptedModel([GOOD_REPLY])
    svc = _services(tmp_path, gh, model)
    fp = seed_error(svc.store)
    # a secondary limit on the commit (403 + retry-after), then a 429 on opening the PR
    gh.inject(403, "You have exceeded a secondary rate limit", {"retry-after": "1"},
              method="POST", path=r"/git/commits$")
    gh.inject(429, "Too many requests", {"Retry-After": "2"}, method="POST", path=r"/pulls$")
    events: list[ProgressEvent] = []
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, progress=events.append, timeout=90,
                            artifacts=svc.artifacts)

    assert out.status == Status.PR_OPEN and out.pr_url, out
    assert len(model.calls) == 1  # waiting never asks the model again
    assert _posts(gh, "/git/commits") == 2 and _posts(gh, "/pulls") == 2  # one request per try
    att = svc.store.get(fp).attempts[-1]  # type: ignore[union-attr]
    runs = [(s.state, s.outcome, s.error) for s in att.steps
            if s.state in ("CommitBranch", "OpenPullRequest")]
    assert runs == [("CommitBranch", "retried", "CodeHostRateLimited"), ("CommitBranch", "succeeded", None),
                    ("OpenPullRequest", "retried", "CodeHostRateLimited"),
                    ("OpenPullRequest", "succeeded", None)]
    # the commit's 1 s was spent inside the execution (the Wait state) ...
    inline = [e.detail for e in events if e.event == "waiting" and "rate limit" in e.detail]
    assert inline == ["1 s (rate limit)"]
    # ... the PR's 2 s in a new execution (this execution's one inline wait was spent), queued
    # with that delay: the Continued marker spans it, the runner counted it down
    waits = [s for s in att.steps if s.state == "Continued" and "CodeHostRateLimited" in (s.cause or "")]
    assert [(w.duration_ms, w.cause.split(" (")[0]) for w in waits] == [  # type: ignore[union-attr]
        (2000, "continue at OpenPullRequest in 2 s")]
    countdown = [e for e in events if e.event == "waiting" and e.state == "OpenPullRequest"]
    assert [e.detail for e in countdown] == ["2 s", "1 s"]
    request = json.loads(Path(waits[0].artifacts["request"]).read_text())
    assert request["resume_from"] == "OpenPullRequest" and request["commit"]


@pytest.mark.timeout(120)
def test_a_wait_longer_than_the_queue_delay_is_left_to_the_sweeper(tmp_path: Path, gh: FakeGitHub) -> None:
    """GitLab may ask for 600 s, GitHub's primary window up to an hour: past SQS's 15 minutes
    the execution ends without a Requeue and the sweeper starts the continuation when due."""
    model = ScriptedModel([GOOD_REPLY])
    svc = _services(tmp_path, gh, model)
    fp = seed_error(svc.store)
    gh.inject(429, "Too many requests", {"Retry-After": "1800"}, method="POST", path=r"/pulls$")
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=90, artifacts=svc.artifacts)
        histories = [engine.history(e["executionArn"]) for e in engine.client.list_executions(
            stateMachineArn=engine.state_machine())["executions"]]
    assert out.status == Status.PR_OPEN and len(model.calls) == 1
    att = svc.store.get(fp).attempts[-1]  # type: ignore[union-attr]
    marker = next(s for s in att.steps
                  if s.state == "Continued" and "OpenPullRequest in 1800 s" in (s.cause or ""))
    assert marker.duration_ms == 1_800_000
    # the execution that decided to wait sent nothing to the queue (DelaySeconds caps at 900)
    entered = [ev["stateEnteredEventDetails"]["name"] for h in histories for ev in h
               if ev["type"] == "TaskStateEntered"]
    assert entered.count("ContinueFix") == 3 and entered.count("Requeue") == 2
