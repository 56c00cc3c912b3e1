"""EnvSecrets: environment first, then a private TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.adapters.secrets_env import EnvSecrets, env_name
from selfheal.errors import ConfigurationError

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\ndef\n-----END OPENSSH PRIVATE KEY-----\n"


def test_env_name() -> None:
    assert env_name("github/token") == "SELFHEAL_SECRET_GITHUB_TOKEN"


def test_env_then_file(tmp_path: Path) -> None:
    f = tmp_path / "secrets.toml"
    f.write_text(f'github_token = "from-file"\nssh_private_key = """{KEY}"""\n')
    f.chmod(0o600)
    s = EnvSecrets(env={"SELFHEAL_SECRET_GITHUB_TOKEN": "from-env"}, file=f)
    assert s.get("github_token") == "from-env"
    assert s.get("ssh_private_key") == KEY
    assert s.get("missing") is None
    assert EnvSecrets(env={}, file=tmp_path / "absent.toml").get("x") is None


def test_secrets_table(tmp_path: Path) -> None:
    f = tmp_path / "secrets.toml"
    f.write_text('[secrets]\ntoken = "t"\n')
    f.chmod(0o600)
    assert EnvSecrets(env={}, file=f).get("token") == "t"


def test_readable_file_refused(tmp_path: Path) -> None:
    f = tmp_path / "secrets.toml"
    f.write_text('token = "t"\n')
    f.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        EnvSecrets(env={}, file=f).get("token")


def test_bad_toml(tmp_path: Path) -> None:
    f = tmp_path / "secrets.toml"
    f.write_text("token = \n")
    f.chmod(0o600)
    with pytest.raises(ConfigurationError, match="cannot read"):
        EnvSecrets(env={}, file=f).get("token")
