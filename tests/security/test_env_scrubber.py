"""One environment scrubber (``selfheal.envscrub``) serves the sandbox, git and the demo: none of
their children sees a credential of ours."""

from __future__ import annotations

import pytest

from selfheal.adapters.git_process import scrubbed_env
from selfheal.compose.demo import _quiet_env
from selfheal.envscrub import scrub_env
from selfheal.validation.sandbox import scrub_env as sandbox_scrub_env

CREDENTIALS = {
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
    "AWS_SESSION_TOKEN": "tok",
    "GITHUB_TOKEN": "ghp_x",
    "OPENAI_API_KEY": "sk-x",
    "SELFHEAL_SECRET_GITHUB_TOKEN": "ghp_y",
    "SSH_AUTH_SOCK": "/tmp/a",
    "DB_PASSWORD": "p",
    "GH_TOKEN": "g",
}


@pytest.mark.parametrize(
    "build",
    [lambda: scrubbed_env({"GIT_AUTHOR_NAME": "selfheal"}), lambda: _quiet_env(), lambda: scrub_env()],
    ids=["git", "demo", "sandbox"],
)
def test_no_child_sees_a_credential(monkeypatch: pytest.MonkeyPatch, build: object) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", "/home/me")
    env = build()  # type: ignore[operator]
    assert not set(CREDENTIALS) & set(env), env
    assert env["PATH"]


def test_one_definition() -> None:
    assert sandbox_scrub_env is scrub_env
    env = scrubbed_env({"GIT_AUTHOR_NAME": "selfheal"})  # our own values are kept, even *_AUTH*-like
    assert env["GIT_AUTHOR_NAME"] == "selfheal" and env["GIT_TERMINAL_PROMPT"] == "0"
