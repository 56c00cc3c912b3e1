"""Secrets from the environment or a private TOML file (local mode).

A secret called ``ssh_private_key`` is read from ``SELFHEAL_SECRET_SSH_PRIVATE_KEY``, else from
the key ``ssh_private_key`` of the secrets file (``<home>/secrets.toml`` by convention), whose
permissions must not let group or others read it, the same rule OpenSSH applies to keys.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

from selfheal import known_secrets
from selfheal.errors import ConfigurationError

ENV_PREFIX = "SELFHEAL_SECRET_"


def env_name(name: str, prefix: str = ENV_PREFIX) -> str:
    """``github/token`` -> ``SELFHEAL_SECRET_GITHUB_TOKEN``."""
    return prefix + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class EnvSecrets:
    """``Secrets`` port over environment variables, then an optional TOML file."""

    def __init__(self, env: Mapping[str, str] | None = None, file: Path | None = None,
                 prefix: str = ENV_PREFIX) -> None:
        self._env = os.environ if env is None else env
        self._file = file
        self._prefix = prefix
        self._file_values: dict[str, str] | None = None

    def get(self, name: str) -> str | None:
        value = self._env.get(env_name(name, self._prefix)) or self._load_file().get(name)
        known_secrets.register(value)  # scrubbed from anything that leaves the process
        return value or None

    def _load_file(self) -> dict[str, str]:
        if self._file_values is not None:
            return self._file_values
        values: dict[str, str] = {}
        if self._file is not None and self._file.is_file():
            mode = self._file.stat().st_mode
            if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigurationError(
                    f"secrets file {self._file} is accessible by group/others "
                    f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {self._file}")
            try:
                data = tomllib.loads(self._file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigurationError(f"cannot read secrets file {self._file}: {exc}") from exc
            table = data.get("secrets", data)
            values = {str(k): v for k, v in table.items() if isinstance(v, str)}
        self._file_values = values
        return values
