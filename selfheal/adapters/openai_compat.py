"""``FixModel`` over any OpenAI-compatible ``/v1/chat/completions`` server (Ollama, vLLM, llama.cpp
server, OpenAI itself), stdlib HTTP only."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

from selfheal.adapters.http_json import as_int, post_json
from selfheal.domain.fixing import ModelReply, Prompt
from selfheal.errors import ConfigurationError, ModelReplyMalformed


def completions_url(base_url: str) -> str:
    """``http://host:11434`` or ``http://host:8000/v1`` -> ``.../v1/chat/completions``."""
    base = base_url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


class OpenAICompatModel:
    """A chat-completions model at ``base_url``; ``api_key`` is optional (local servers need none)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, *, timeout: float = 300.0,
                 temperature: float = 0.0, opener: urllib.request.OpenerDirector | None = None) -> None:
        if not base_url.startswith(("http://", "https://")) or not model:
            raise ConfigurationError(
                f"openai: need an http(s) base URL and a model, got {base_url!r}#{model!r}")
        self.base_url = base_url.rstrip("/")
        self._model = model
        self._api_key = api_key
        self.timeout = timeout
        self.temperature = temperature
        self._opener = opener

    @property
    def model_id(self) -> str:
        # The URL is part of the id: prices (local servers are free) and PR notes depend on it.
        return f"openai:{self.base_url}#{self._model}"

    def complete(self, prompt: Prompt) -> ModelReply:
        body = {"model": self._model, "max_tokens": prompt.max_output_tokens, "temperature": self.temperature,
                "stream": False,
                "messages": [{"role": "system", "content": prompt.system},
                             {"role": "user", "content": prompt.user}]}
        headers = {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        started = time.monotonic()
        data = post_json(completions_url(self.base_url), body, headers, provider="openai-compatible server",
                         timeout=self.timeout, opener=self._opener)
        return _reply(data, self.model_id, int((time.monotonic() - started) * 1000))


def _reply(data: dict[str, Any], model_id: str, latency_ms: int) -> ModelReply:
    """The first choice's text with the usage. ``content: null`` (tool calls only, a refusal, a
    content filter) is an empty text for the caller to judge, so its tokens still count; a refusal
    is reported as stop reason ``refusal``. No choice or no message at all is malformed."""
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    billed = {"tokens_in": as_int(usage.get("prompt_tokens")),
              "tokens_out": as_int(usage.get("completion_tokens"))}  # travels with a malformed error
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelReplyMalformed("openai-compatible response has no choices", **billed)
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ModelReplyMalformed("openai-compatible response has no message", **billed)
    text = message.get("content")
    if isinstance(text, list):  # content parts: keep the text parts
        text = "\n".join(p["text"] for p in text if isinstance(p, dict) and isinstance(p.get("text"), str))
    finish = choices[0].get("finish_reason")
    refusal = message.get("refusal")
    stop = "refusal" if isinstance(refusal, str) and refusal.strip() else finish
    return ModelReply(text=text if isinstance(text, str) else "", model_id=model_id,
                      tokens_in=billed["tokens_in"], tokens_out=billed["tokens_out"],
                      stop_reason=stop if isinstance(stop, str) else None, latency_ms=latency_ms)
