"""Composition of the ``FixModel``: a model spec string to a provider adapter.

Specs: ``rules`` (the offline fixer), ``bedrock`` / ``bedrock:MODEL_ID`` (default
``settings.bedrock_model_id``), ``anthropic:MODEL``, ``openai:BASE_URL#MODEL``. API keys come
from the ``Secrets`` port (``anthropic_api_key``, ``openai_api_key``): the caller's, else the
local one (``SELFHEAL_SECRET_ANTHROPIC_API_KEY``, then ``<home>/secrets.toml`` with its mode
check); else the providers' usual environment variables (``ANTHROPIC_API_KEY``,
``OPENAI_API_KEY``). This is a composition root, so reading the environment here is allowed.
``MODEL_SPECS`` is the one statement of the grammar (CLI help and messages use it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from selfheal.errors import ConfigurationError
from selfheal.ports import FixModel, Secrets
from selfheal.settings import Settings

MODEL_SPECS = "rules | bedrock[:MODEL_ID] | anthropic:MODEL | openai:BASE_URL#MODEL"


def _secret(name: str, env_name: str, secrets: Secrets | None, env: Mapping[str, str]) -> str | None:
    value = secrets.get(name) if secrets is not None else None
    return value or env.get(env_name) or None


def check_model_spec(spec: str) -> None:
    """``ConfigurationError`` when ``spec`` is not of a form ``MODEL_SPECS`` names (the CLI checks
    ``--model`` with it before any work starts)."""
    provider, _, rest = spec.strip().partition(":")
    provider = provider.lower()
    if (provider == "rules" and not rest) or provider == "bedrock" or (provider == "anthropic" and rest):
        return
    if provider == "openai" and rest:
        base_url, sep, model = rest.rpartition("#")
        if not sep or not base_url or not model:
            raise ConfigurationError(f"model {spec!r}: write openai:BASE_URL#MODEL")
        return
    raise ConfigurationError(f"unknown model {spec!r}; use {MODEL_SPECS}")


def build_model(spec: str, settings: Settings, secrets: Secrets | None = None,
                env: Mapping[str, str] | None = None) -> FixModel:
    """The ``FixModel`` named by ``spec`` (see ``MODEL_SPECS``); ``ConfigurationError`` otherwise."""
    check_model_spec(spec)
    env = os.environ if env is None else env
    if secrets is None:
        from selfheal.compose.source import build_local_secrets

        secrets = build_local_secrets(settings, env)
    provider, _, rest = spec.strip().partition(":")
    provider = provider.lower()
    if provider == "rules" and not rest:
        from selfheal.fixers.rules import RulesFixer

        return RulesFixer()
    if provider == "bedrock":
        from selfheal.adapters.bedrock import BedrockModel

        return BedrockModel(rest or settings.bedrock_model_id, timeout=settings.model_timeout_seconds)
    if provider == "anthropic" and rest:
        from selfheal.adapters.anthropic import AnthropicModel

        key = _secret("anthropic_api_key", "ANTHROPIC_API_KEY", secrets, env)
        if not key:
            raise ConfigurationError(
                "model anthropic: no API key; set SELFHEAL_SECRET_ANTHROPIC_API_KEY, or "
                "anthropic_api_key in <home>/secrets.toml (chmod 600), or ANTHROPIC_API_KEY")
        return AnthropicModel(rest, key, base_url=settings.anthropic_base_url,
                              timeout=settings.model_timeout_seconds)
    if provider == "openai" and rest:
        from selfheal.adapters.openai_compat import OpenAICompatModel

        base_url, _, model = rest.rpartition("#")
        key = _secret("openai_api_key", "OPENAI_API_KEY", secrets, env)
        return OpenAICompatModel(base_url, model, key, timeout=settings.model_timeout_seconds)
    raise ConfigurationError(f"unknown model {spec!r}; use {MODEL_SPECS}")
