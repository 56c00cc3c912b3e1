"""``FixModel`` over the Anthropic Messages API (``POST {base_url}/v1/messages``), stdlib HTTP only."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

from selfheal.adapters.http_json import as_int, post_json
from selfheal.domain.fixing import ModelReply, Prompt
from selfheal.errors import ConfigurationError, ModelReplyMalformed

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"


class AnthropicModel:
    """Claude through the Anthropic API. ``api_key`` comes from the Secrets port or the environment
    (the composition root reads it); ``base_url`` points elsewhere for proxies and tests."""

    def __init__(self, model: str, api_key: str, *, base_url: str = DEFAULT_BASE_URL, timeout: float = 300.0,
                 temperature: float = 0.0, opener: urllib.request.OpenerDirector | None = None) -> None:
        if not model:
            raise ConfigurationError("anthropic: a model id is required (anthropic:MODEL)")
        if not api_key:
            raise ConfigurationError("anthropic: no API key (secret anthropic_api_key or ANTHROPIC_API_KEY)")
        self._model = model
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.temperature = temperature
        self._opener = opener

    @property
    def model_id(self) -> str:
        return self._model

    def complete(self, prompt: Prompt) -> ModelReply:
        body = {"model": self._model, "max_tokens": prompt.max_output_tokens, "temperature": self.temperature,
                "system": prompt.system, "messages": [{"role": "user", "content": prompt.user}]}
        headers = {"x-api-key": self._api_key, "anthropic-version": API_VERSION}
        started = time.monotonic()
        data = post_json(f"{self.base_url}/v1/messages", body, headers, provider="anthropic",
                         timeout=self.timeout, opener=self._opener)
        latency = int((time.monotonic() - started) * 1000)
        return _reply(data, self._model, latency)


def _reply(data: dict[str, Any], model: str, latency_ms: int) -> ModelReply:
    """The reply with its usage. Text blocks are joined with newlines; thinking and tool-use blocks
    are skipped; a content list with no text (cut off at ``max_tokens``, a refusal) is an empty text
    for the caller to judge, so its tokens still count. No content list at all is malformed."""
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    content = data.get("content")
    if not isinstance(content, list):  # the tokens it says were billed travel with the error
        raise ModelReplyMalformed("anthropic response has no content list", tokens_in=as_int(usage.get(
            "input_tokens")), tokens_out=as_int(usage.get("output_tokens")))
    texts = [b["text"] for b in content
             if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)]
    stop = data.get("stop_reason")
    return ModelReply(text="\n".join(texts),
                      model_id=str(data.get("model") or model), tokens_in=as_int(usage.get("input_tokens")),
                      tokens_out=as_int(usage.get("output_tokens")),
                      stop_reason=stop if isinstance(stop, str) else None, latency_ms=latency_ms)
