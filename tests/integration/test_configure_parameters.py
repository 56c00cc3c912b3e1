"""What bin/configure stores becomes the Lambdas' settings: parameters written by the script (on a
moto server) read back through the SSM ``Secrets`` adapter into ``Settings``."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.adapters.secrets_ssm import SsmSecrets
from selfheal.compose.aws_parameters import github_location, settings_from_parameters
from selfheal.errors import ConfigurationError
from selfheal.settings import load_settings
from tests.support.deploy_moto import client, moto_url, run_script

__all__ = ["moto_url"]  # the shared module-scoped moto server fixture

HOST_KEY = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def configure(url: str, prefix: str, *flags: str) -> None:
    key = client(url, "kms").create_key()["KeyMetadata"]["Arn"]
    result = run_script("configure", url, "--prefix", prefix, "--kms-key-id", key, "--non-interactive",
                        *flags)
    assert result.returncode == 0, result.stderr


def test_github_setup_becomes_settings_and_secrets(moto_url: str) -> None:
    configure(moto_url, "/sh-github", "--repository-url", "https://github.com/acme/orders.git",
              "--code-host", "github", "--github-token", "ghp_0123456789abcdefghij0123456789abcdef",
              "--base-branch", "trunk", "--model-id", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    secrets = SsmSecrets(prefix="/sh-github", client=client(moto_url, "ssm"))
    settings = load_settings(settings_from_parameters(secrets), env={})
    assert settings.repo_url == "github:acme/orders"
    assert settings.github_base_url is None
    assert settings.base_branch == "trunk"
    assert settings.model == "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert secrets.get(settings.github_token_secret) == "ghp_0123456789abcdefghij0123456789abcdef"


def test_ssh_setup_becomes_settings_and_secrets(moto_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "id"
    key_file.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
    configure(moto_url, "/sh-ssh", "--repository-url", "git@git.example.com:acme/orders.git",
              "--code-host", "ssh", "--ssh-key-file", str(key_file), "--host-key", HOST_KEY)
    secrets = SsmSecrets(prefix="/sh-ssh", client=client(moto_url, "ssm"))
    settings = load_settings(settings_from_parameters(secrets), env={})
    assert settings.repo_url == "git@git.example.com:acme/orders.git"
    assert settings.ssh_known_hosts == [HOST_KEY]
    assert secrets.get(settings.ssh_key_secret) == key_file.read_text()
    assert settings.model == "rules"  # no model_id stored: the default stays


def test_github_locations() -> None:
    assert github_location("https://github.com/acme/orders") == ("github:acme/orders", None)
    assert github_location("git@github.com:acme/orders.git") == ("github:acme/orders", None)
    assert github_location("https://ghe.example.com/acme/orders") == (
        "github:acme/orders", "https://ghe.example.com/api/v3")
    with pytest.raises(ConfigurationError):
        github_location("https://github.com/acme")
