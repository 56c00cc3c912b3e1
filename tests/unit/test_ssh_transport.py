"""SshTransport configuration checks and git failure classification."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.adapters.secrets_env import EnvSecrets
from selfheal.adapters.ssh import SshTransport, classify_git_failure, is_ssh_url
from selfheal.errors import (
    CodeHostAuthFailed,
    CodeHostForbidden,
    CodeHostUnavailable,
    ConcurrentUpdate,
    ConfigurationError,
    HostKeyRejected,
)

LINE = "[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample"


def test_host_keys_must_be_pinned() -> None:
    secrets = EnvSecrets(env={})
    with pytest.raises(ConfigurationError, match="no pinned SSH host keys"):
        SshTransport(secrets, "k", [])
    with pytest.raises(ConfigurationError, match="no pinned"):
        SshTransport(secrets, "k", ["# only a comment", "  "])
    with pytest.raises(ConfigurationError, match="malformed"):
        SshTransport(secrets, "k", ["git.example.com"])


def test_missing_key_secret_is_a_clear_error() -> None:
    transport = SshTransport(EnvSecrets(env={}), "ssh_private_key", [LINE])
    with pytest.raises(ConfigurationError, match="ssh_private_key"), transport.environment():
        pass


def test_command_quotes_paths() -> None:
    transport = SshTransport(EnvSecrets(env={}), "k", [LINE])
    cmd = transport.command(Path("/tmp/a b/key"), Path("/tmp/kh"))
    assert "'/tmp/a b/key'" in cmd and "StrictHostKeyChecking=yes" in cmd


@pytest.mark.parametrize(("stderr", "cls"), [
    ("Host key verification failed.\nfatal: Could not read from remote repository.", HostKeyRejected),
    ("git@x: Permission denied (publickey).\nfatal: Could not read", CodeHostAuthFailed),
    ("ssh: connect to host 127.0.0.1 port 1: Connection refused", CodeHostUnavailable),
    ("fatal: early EOF", CodeHostUnavailable),
    (" ! [rejected] b -> b (stale info)\nerror: failed to push", ConcurrentUpdate),
    (" ! [remote rejected] x -> x (pre-receive hook declined)\nerror: failed to push", CodeHostForbidden),
    ("fatal: repository '/x' does not exist", ConfigurationError),
])
def test_classify(stderr: str, cls: type) -> None:
    assert type(classify_git_failure(stderr, "clone")) is cls


def test_is_ssh_url() -> None:
    assert is_ssh_url("ssh://git@host:22/x.git") and is_ssh_url("git@github.com:o/r.git")
    assert not is_ssh_url("file:///tmp/x.git") and not is_ssh_url("/tmp/x") and not is_ssh_url("https://h/x")
