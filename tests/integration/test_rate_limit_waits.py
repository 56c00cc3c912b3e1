"""Rate-limit waits come from each service's own headers, capped, and travel on the error.

Every case drives the unchanged adapter against a fake that answers like the real service:
GitHub's secondary limits often name no wait (at least 60 s then) and carry the primary window's
reset, which says nothing about them; a primary limit is waited out until its reset; GitLab may
send ``Retry-After: 600`` or nothing; model providers send ``Retry-After`` (or not).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from selfheal.adapters.anthropic import AnthropicModel
from selfheal.adapters.bedrock import BedrockModel
from selfheal.adapters.github import SECONDARY_LIMIT_WAIT_S, GitHubHost, make_client, rate_limit_wait
from selfheal.adapters.gitlab import DEFAULT_LIMIT_WAIT_S, GitLabHost
from selfheal.adapters.gitlab import make_client as gitlab_client
from selfheal.adapters.gitlab import rate_limit_wait as gitlab_wait
from selfheal.adapters.openai_compat import OpenAICompatModel
from selfheal.errors import MAX_RETRY_AFTER_S, CodeHostRateLimited, ModelNotReady, ModelThrottled
from tests.support.fake_github import FakeGitHub
from tests.support.fake_gitlab import FakeGitLab
from tests.support.fixgen_providers import GOOD_REPLY, sample_prompt
from tests.support.git_repos import make_bare_repo
from tests.support.model_servers import ModelServer


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(make_bare_repo(tmp_path / "remote.git", branch="trunk")).serve() as server:
        yield server


@pytest.fixture
def gl(tmp_path: Path) -> Iterator[FakeGitLab]:
    with FakeGitLab(make_bare_repo(tmp_path / "remote.git", branch="trunk")).serve() as server:
        yield server


def _gh_host(gh: FakeGitHub) -> GitHubHost:
    return GitHubHost("acme/svc", client=make_client("test-token", gh.base_url, throttle=False))


def _limited(call: Any) -> CodeHostRateLimited:
    with pytest.raises(CodeHostRateLimited) as info:
        call()
    assert info.value.retryable
    return info.value


# --- GitHub ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 429])
def test_github_secondary_limit_without_headers_waits_a_minute(gh: FakeGitHub, status: int) -> None:
    gh.secondary_limit(status=status, path=r"/pulls")
    err = _limited(lambda: _gh_host(gh).find_pull_request("selfheal/abc"))
    assert err.retry_after == SECONDARY_LIMIT_WAIT_S == 60


def test_github_secondary_limit_ignores_the_primary_reset(gh: FakeGitHub) -> None:
    # The probe in the issue: requests remain, the primary window resets in 2999 s.
    gh.secondary_limit(path=r"/pulls", with_primary_headers=True)
    err = _limited(lambda: _gh_host(gh).find_pull_request("selfheal/abc"))
    assert err.retry_after == 60


def test_github_primary_limit_waits_until_the_reset(gh: FakeGitHub) -> None:
    gh.primary_limit(reset_in=300, path=r"/commits/")
    err = _limited(lambda: _gh_host(gh).resolve("trunk"))
    assert err.retry_after is not None and 295 <= err.retry_after <= 301


def test_github_retry_after_wins_and_long_waits_are_capped(gh: FakeGitHub) -> None:
    reset = str(int(time.time()) + 900)
    gh.inject(403, "You have exceeded a secondary rate limit.",
              {"Retry-After": "45", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
              path=r"/commits/")
    assert _limited(lambda: _gh_host(gh).resolve("trunk")).retry_after == 45
    gh.primary_limit(reset_in=86_400, path=r"/commits/")
    assert _limited(lambda: _gh_host(gh).resolve("trunk")).retry_after == MAX_RETRY_AFTER_S


def test_github_wait_rules_against_headers() -> None:
    now = 1_700_000_000.0
    assert rate_limit_wait({}, now) == 60
    assert rate_limit_wait({"Retry-After": "12"}, now) == 12
    assert rate_limit_wait({"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"}, now) == 30  # an HTTP date
    later = str(int(now) + 2999)
    assert rate_limit_wait({"x-ratelimit-remaining": "7", "x-ratelimit-reset": later}, now) == 60
    soon = str(int(now) + 120)
    assert rate_limit_wait({"x-ratelimit-remaining": "0", "x-ratelimit-reset": soon}, now) == 120
    # the reset is read against the server's Date, so a skewed local clock does not stretch it
    skewed = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000120",
              "date": "Tue, 14 Nov 2023 22:13:20 GMT"}  # = 1700000000
    assert rate_limit_wait(skewed, now + 5000) == 120


# --- GitLab ------------------------------------------------------------------------------------


def _gl_host(gl: FakeGitLab) -> GitLabHost:
    return GitLabHost("acme/svc", client=gitlab_client("test-token", gl.url))


def test_gitlab_retry_after_600_is_carried(gl: FakeGitLab) -> None:
    gl.inject(429, "Retry later", {"Retry-After": "600"}, path="/repository/commits/")
    assert _limited(lambda: _gl_host(gl).resolve("trunk")).retry_after == 600


def test_gitlab_429_without_headers_waits_a_minute(gl: FakeGitLab) -> None:
    gl.inject(429, "Retry later", path="/merge_requests")
    err = _limited(lambda: _gl_host(gl).find_pull_request("selfheal/abc"))
    assert err.retry_after == DEFAULT_LIMIT_WAIT_S == 60


def test_gitlab_reset_header_when_no_retry_after(gl: FakeGitLab) -> None:
    reset = str(int(time.time()) + 200)
    gl.inject(429, "Retry later", {"RateLimit-Reset": reset}, path="/repository/commits/")
    err = _limited(lambda: _gl_host(gl).resolve("trunk"))
    assert err.retry_after is not None and 195 <= err.retry_after <= 201
    assert gitlab_wait({"retry-after": "soon"}, 0.0) == 60


# --- model providers ---------------------------------------------------------------------------


def _bedrock(server: ModelServer) -> BedrockModel:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=server.url,
                          config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    return BedrockModel("m", client=client)


def test_anthropic_429_carries_its_retry_after() -> None:
    with ModelServer("anthropic") as server:
        server.reply_error(429, "rate_limit_error", "slow down", headers={"retry-after": "20"})
        with pytest.raises(ModelThrottled) as info:
            AnthropicModel("claude", "k", base_url=server.url).complete(sample_prompt())
        assert info.value.retry_after == 20
        server.reply_error(429, "rate_limit_error", "slow down", headers={})
        with pytest.raises(ModelThrottled) as info:
            AnthropicModel("claude", "k", base_url=server.url).complete(sample_prompt())
        assert info.value.retry_after is None  # not said: the workflow's own backoff applies


def test_openai_429_retry_after_ms_and_seconds() -> None:
    with ModelServer("openai") as server:
        server.reply_error(429, "rate_limit_exceeded", "slow", headers={"retry-after-ms": "1500"})
        server.reply_error(429, "rate_limit_exceeded", "slow", headers={"retry-after": "99999"})
        model = OpenAICompatModel(server.url, "gpt")
        with pytest.raises(ModelThrottled) as info:
            model.complete(sample_prompt())
        assert info.value.retry_after == 1.5
        with pytest.raises(ModelThrottled) as info:
            model.complete(sample_prompt())
        assert info.value.retry_after == MAX_RETRY_AFTER_S


def test_bedrock_throttling_carries_retry_after_and_model_not_ready_is_its_own_condition() -> None:
    with ModelServer("bedrock") as server:
        server.reply_error(429, "ThrottlingException", "Too many requests", headers={"retry-after": "20"})
        server.reply_error(429, "ModelNotReadyException", "Model is not ready for inference")
        server.reply_error(429, "ThrottlingException", "Too many requests")
        server.reply_text(GOOD_REPLY)
        model = _bedrock(server)
        with pytest.raises(ModelThrottled) as info:
            model.complete(sample_prompt())
        assert info.value.retry_after == 20
        with pytest.raises(ModelNotReady) as ready:
            model.complete(sample_prompt())
        assert not isinstance(ready.value, ModelThrottled) and ready.value.retryable
        with pytest.raises(ModelThrottled) as info:
            model.complete(sample_prompt())
        assert info.value.retry_after is None
        assert model.complete(sample_prompt()).text == GOOD_REPLY
        assert len(server.requests) == 4  # one request per call: no hidden retries


def test_gitlab_client_built_elsewhere_still_reads_retry_after(gl: FakeGitLab) -> None:
    import gitlab

    plain = gitlab.Gitlab(gl.url, private_token="test-token", retry_transient_errors=False)
    gl.inject(429, "Retry later", {"Retry-After": "600"}, path="/repository/commits/")
    host = GitLabHost("acme/svc", client=plain)
    assert _limited(lambda: host.resolve("trunk")).retry_after == 600
