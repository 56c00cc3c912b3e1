"""Build the ``SourceRepository`` and ``CodeHost`` from settings.

Where the source lives (``repo_url`` if set, else ``repo``):

- a local path: read it, write fix branches into it (never touching its working tree) and
  write PR records under ``<home>/prs``; push fix branches to ``push_remote`` when set;
- ``file://...`` or an SSH URL (``ssh://``, ``user@host:path``): cloned bare into
  ``<home>/repos``, fix branches pushed back; SSH uses the key secret ``ssh_key_secret`` and the
  pinned ``ssh_known_hosts``;
- ``github:owner/name``: the GitHub API (``github_base_url`` for Enterprise) with the token
  secret ``github_token_secret``; no git binary needed;
- ``gitlab:group/name``: the GitLab API at ``gitlab_url`` with the token secret
  ``gitlab_token_secret``; merge requests instead of pull requests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from selfheal.errors import ConfigurationError
from selfheal.names import ENV_HOME
from selfheal.ports import CodeHost, Secrets, SourceRepository
from selfheal.settings import Settings

GITHUB_PREFIX = "github:"
GITLAB_PREFIX = "gitlab:"
API_PREFIXES = (GITHUB_PREFIX, GITLAB_PREFIX)


def source_location(settings: Settings) -> str:
    """The configured source location as text (``repo_url`` wins over ``repo``)."""
    if settings.repo_url:
        return settings.repo_url.strip()
    if settings.repo is not None:
        return str(settings.repo)
    raise ConfigurationError("no repository: pass --repo PATH or set SELFHEAL_REPO / SELFHEAL_REPO_URL")


def build_local_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> Secrets:
    """Environment variables, then ``secrets_file`` (default ``<home>/secrets.toml``)."""
    from selfheal.adapters.secrets_env import EnvSecrets

    return EnvSecrets(env=env, file=settings.secrets_file or settings.home / "secrets.toml")


def build_source(settings: Settings, secrets: Secrets | None = None,
                 github_client: Any = None) -> tuple[SourceRepository, CodeHost]:
    """The repository and code host for ``settings`` (see the module docstring)."""
    location = source_location(settings)
    secrets = secrets if secrets is not None else build_local_secrets(settings)
    if location.startswith(GITHUB_PREFIX):
        return _github(settings, location[len(GITHUB_PREFIX):], secrets, github_client)
    if location.startswith(GITLAB_PREFIX):
        return _gitlab(settings, location[len(GITLAB_PREFIX):], secrets)
    from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
    from selfheal.adapters.ssh import SshTransport, is_ssh_url

    ssh = None
    remote = location if location.startswith("file://") or is_ssh_url(location) else None
    push = settings.push_remote
    if (remote and is_ssh_url(remote)) or (push and is_ssh_url(push)):
        ssh = SshTransport(secrets, settings.ssh_key_secret, settings.ssh_known_hosts)
    repo = LocalGitRepository(remote or Path(location), cache_dir=settings.home / "repos", ssh=ssh,
                              base_branch=settings.base_branch)
    return repo, LocalGitHost(repo, settings.home, push_remote=push)


def _github(settings: Settings, full_name: str, secrets: Secrets,
            client: Any) -> tuple[SourceRepository, CodeHost]:
    from selfheal.adapters.github import GitHubHost, GitHubRepository, make_client

    if client is None:
        token = secrets.get(settings.github_token_secret)
        if not token:
            raise ConfigurationError(f"secret {settings.github_token_secret!r} (GitHub token) is not set")
        # Throttling and retries belong to the workflow (ASL Retry with backoff), not the client.
        client = make_client(token, settings.github_base_url, throttle=False)
    kwargs: dict[str, Any] = {"client": client, "base_branch": settings.base_branch}
    return GitHubRepository(full_name, **kwargs), GitHubHost(full_name, **kwargs)


def _gitlab(settings: Settings, project: str, secrets: Secrets) -> tuple[SourceRepository, CodeHost]:
    from selfheal.adapters.gitlab import GitLabHost, GitLabRepository, make_client

    token = secrets.get(settings.gitlab_token_secret)
    if not token:
        raise ConfigurationError(f"secret {settings.gitlab_token_secret!r} (GitLab token) is not set")
    client = make_client(token, settings.gitlab_url)
    kwargs: dict[str, Any] = {"client": client, "base_branch": settings.base_branch}
    return GitLabRepository(project, **kwargs), GitLabHost(project, **kwargs)


def build_aws_source(settings: Settings, env: Mapping[str, str] | None = None,
                     secrets: Secrets | None = None) -> tuple[SourceRepository, CodeHost]:
    """AWS mode: secrets from SSM Parameter Store; the source must be GitHub or GitLab (Lambda
    has no git) unless git is present (a container image), in which case any location works."""
    import shutil

    env = os.environ if env is None else env
    if secrets is None:
        from selfheal.adapters.secrets_ssm import SsmSecrets

        secrets = SsmSecrets(prefix=settings.ssm_prefix, region=env.get("AWS_REGION"))
    location = source_location(settings)
    via_api = location.startswith(API_PREFIXES)
    if not via_api and shutil.which("git") is None:
        raise ConfigurationError(f"source {location!r} needs the git binary, which this runtime lacks; "
                                 "use github:owner/name or gitlab:group/name in AWS mode")
    if not via_api:
        # Lambda's only writable place is /tmp: keep the clone cache and PR records there.
        settings = settings.model_copy(update={"home": Path(env.get(ENV_HOME, "/tmp/selfheal"))})
    return build_source(settings, secrets)
