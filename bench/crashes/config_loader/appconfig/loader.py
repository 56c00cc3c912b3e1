"""Load the service configuration: ``service.ini`` defaults, overridden by ``APP_*`` variables."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    port: int
    debug: bool
    allowed_hosts: list[str]
    cors_origins: list[str]


def _setting(ini: configparser.ConfigParser, env: Mapping[str, str], key: str) -> str | None:
    override = env.get("APP_" + key.upper())
    if override is not None:
        return override
    return ini.get("server", key, fallback=None)


def split_list(ini: configparser.ConfigParser, env: Mapping[str, str], key: str) -> list[str]:
    raw = _setting(ini, env, key)
    return [part.strip() for part in raw.split(",") if part.strip()]


def load(ini_text: str, env: Mapping[str, str]) -> Config:
    ini = configparser.ConfigParser()
    ini.read_string(ini_text)
    return Config(
        port=int(_setting(ini, env, "port") or 8080),
        debug=(_setting(ini, env, "debug") or "false").lower() in ("1", "true", "yes"),
        allowed_hosts=split_list(ini, env, "allowed_hosts"),
        cors_origins=split_list(ini, env, "cors_origins"),
    )
