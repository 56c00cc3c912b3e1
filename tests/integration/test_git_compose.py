"""selfheal.compose.source builds the right adapters from settings (and they work)."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.adapters.github import GitHubHost, GitHubRepository, make_client
from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
from selfheal.adapters.secrets_env import EnvSecrets
from selfheal.compose.source import build_aws_source, build_source, source_location
from selfheal.errors import ConfigurationError
from selfheal.settings import Settings
from tests.support.fake_github import FakeGitHub
from tests.support.git_repos import APP_PY, make_bare_repo, make_work_repo


def test_local_path(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    repo, host = build_source(Settings(home=tmp_path / "home", repo=work), secrets=EnvSecrets(env={}))
    assert isinstance(repo, LocalGitRepository) and isinstance(host, LocalGitHost)
    assert repo.read_file("app.py", repo.resolve()) == APP_PY
    assert host.push_remote is None


def test_file_url_clones_into_home(tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "remote.git")
    settings = Settings(home=tmp_path / "home", repo_url=bare.as_uri())
    repo, host = build_source(settings, secrets=EnvSecrets(env={}))
    assert isinstance(repo, LocalGitRepository) and repo.resolve()
    assert (tmp_path / "home" / "repos").is_dir()
    assert isinstance(host, LocalGitHost) and host.push_remote == bare.as_uri()


def test_ssh_url_requires_pinned_host_keys(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, repo_url="ssh://git@127.0.0.1:2222/srv/x.git")
    with pytest.raises(ConfigurationError, match="pinned"):
        build_source(settings, secrets=EnvSecrets(env={}))
    ok = settings.model_copy(update={"ssh_known_hosts": ["[127.0.0.1]:2222 ssh-ed25519 AAAAkey"]})
    repo, _ = build_source(ok, secrets=EnvSecrets(env={}))
    assert isinstance(repo, LocalGitRepository) and repo.ssh is not None


def test_github(tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "remote.git")
    with FakeGitHub(bare).serve() as gh:
        settings = Settings(home=tmp_path, repo_url="github:acme/svc", github_base_url=gh.base_url)
        with pytest.raises(ConfigurationError, match="github_token"):
            build_source(settings, secrets=EnvSecrets(env={}))
        secrets = EnvSecrets(env={"SELFHEAL_SECRET_GITHUB_TOKEN": "test-token"})
        repo, host = build_source(settings, secrets=secrets)
        assert isinstance(repo, GitHubRepository) and isinstance(host, GitHubHost)
        assert repo.read_file("app.py", repo.resolve()) == APP_PY
        repo2, _ = build_source(settings, github_client=make_client("test-token", gh.base_url))
        assert repo2.default_branch() == "main"


def test_aws_mode_secrets_and_location(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no repository"):
        source_location(Settings(home=tmp_path))
    work = make_work_repo(tmp_path / "svc")
    repo, host = build_aws_source(Settings(repo=work), env={"SELFHEAL_HOME": str(tmp_path / "h")},
                                  secrets=EnvSecrets(env={}))
    assert isinstance(host, LocalGitHost) and host.records.dir == tmp_path / "h" / "prs"


def test_gitlab(tmp_path: Path) -> None:
    from selfheal.adapters.gitlab import GitLabHost, GitLabRepository
    from tests.support.fake_gitlab import FakeGitLab

    with FakeGitLab(make_bare_repo(tmp_path / "remote.git")).serve() as gl:
        settings = Settings(home=tmp_path, repo_url="gitlab:acme/svc", gitlab_url=gl.url)
        with pytest.raises(ConfigurationError, match="gitlab_token"):
            build_source(settings, secrets=EnvSecrets(env={}))
        secrets = EnvSecrets(env={"SELFHEAL_SECRET_GITLAB_TOKEN": "test-token"})
        repo, host = build_source(settings, secrets=secrets)
        assert isinstance(repo, GitLabRepository) and isinstance(host, GitLabHost)
        assert repo.read_file("app.py", repo.resolve()) == APP_PY
