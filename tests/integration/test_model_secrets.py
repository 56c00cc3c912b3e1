"""Model API keys set the documented ways reach the model through the ``Secrets`` port:
``SELFHEAL_SECRET_ANTHROPIC_API_KEY`` and ``anthropic_api_key`` in ``<home>/secrets.toml``
(whose mode is checked), on the same path ``selfheal fix`` composes (issue 13, point 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selfheal.compose.workflow import build_local_services
from selfheal.errors import ConfigurationError
from selfheal.settings import load_settings
from tests.support.fixgen_providers import GOOD_REPLY, sample_prompt
from tests.support.git_repos import make_work_repo
from tests.support.model_servers import ModelServer


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer("anthropic") as s:
        yield s


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "SELFHEAL_SECRET_ANTHROPIC_API_KEY", "SELFHEAL_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)


def _key_sent(server: ModelServer, home: Path, repo: Path) -> str:
    settings = load_settings({"home": home, "repo": repo, "anthropic_base_url": server.url}, env={})
    services = build_local_services(settings, "anthropic:claude-sonnet-4-5")
    server.reply_text(GOOD_REPLY, tokens_in=10, tokens_out=5)
    services.model.complete(sample_prompt())
    return str(server.requests[-1].headers["x-api-key"])


def test_key_from_selfheal_secret_environment_variable(server: ModelServer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_work_repo(tmp_path / "repo")
    monkeypatch.setenv("SELFHEAL_SECRET_ANTHROPIC_API_KEY", "sk-from-env")
    assert _key_sent(server, tmp_path / "home", repo) == "sk-from-env"


def test_key_from_secrets_file_with_its_mode_check(server: ModelServer, tmp_path: Path) -> None:
    repo = make_work_repo(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    secrets = home / "secrets.toml"
    secrets.write_text('anthropic_api_key = "sk-from-file"\n')
    secrets.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        _key_sent(server, home, repo)
    secrets.chmod(0o600)
    assert _key_sent(server, home, repo) == "sk-from-file"


def test_missing_key_names_every_documented_place(tmp_path: Path) -> None:
    repo = make_work_repo(tmp_path / "repo")
    settings = load_settings({"home": tmp_path / "home", "repo": repo}, env={})
    with pytest.raises(ConfigurationError) as info:
        build_local_services(settings, "anthropic:claude-sonnet-4-5")
    message = str(info.value)
    for place in ("SELFHEAL_SECRET_ANTHROPIC_API_KEY", "secrets.toml", "ANTHROPIC_API_KEY"):
        assert place in message
