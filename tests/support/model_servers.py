"""Local HTTP servers (127.0.0.1) speaking the model APIs, with scriptable replies.

``ModelServer("bedrock")`` serves Converse at ``POST /model/{modelId}/converse``;
``"anthropic"`` serves ``POST /v1/messages``; ``"openai"`` serves ``POST /v1/chat/completions``.
Queue replies with ``reply_text`` (a success in the API's own shape), ``reply_error`` (the API's
error shape: 429 throttling, 503, ...) or ``reply_raw`` (anything, e.g. a malformed body). Every
request is recorded in ``requests``. With nothing queued the server answers 500 "unscripted".
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import unquote

Kind = Literal["bedrock", "anthropic", "openai"]

_ROUTES: dict[str, re.Pattern[str]] = {
    "bedrock": re.compile(r"^/model/(?P<model>[^/]+)/converse$"),
    "anthropic": re.compile(r"^/v1/messages$"),
    "openai": re.compile(r"^(?:/v1)?/chat/completions$"),
}


@dataclass
class Scripted:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    model: str | None = None


class ModelServer:
    """A scriptable fake of one model API; use as a context manager."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.queue: deque[Scripted] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> ModelServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ----------------------------------------------------------------- scripting
    def reply_raw(self, status: int, body: bytes | str, headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.queue.append(Scripted(status, data, {"content-type": "application/json", **(headers or {})}))

    def reply_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.reply_raw(status, json.dumps(obj), headers)

    def reply_text(self, text: str, tokens_in: int = 1200, tokens_out: int = 150,
                   stop: str | None = None) -> None:
        """A successful completion carrying ``text`` in this API's response shape."""
        if self.kind == "bedrock":
            self.reply_json(200, {"output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                                  "stopReason": stop or "end_turn",
                                  "usage": {"inputTokens": tokens_in, "outputTokens": tokens_out,
                                            "totalTokens": tokens_in + tokens_out},
                                  "metrics": {"latencyMs": 812}})
        elif self.kind == "anthropic":
            self.reply_json(200, {"id": "msg_01", "type": "message", "role": "assistant",
                                  "model": "claude-sonnet-4-5-20250929",
                                  "content": [{"type": "text", "text": text}],
                                  "stop_reason": stop or "end_turn",
                                  "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}})
        else:
            self.reply_json(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": "qwen2.5-coder",
                                  "choices": [{"index": 0, "finish_reason": stop or "stop",
                                               "message": {"role": "assistant", "content": text}}],
                                  "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                                            "total_tokens": tokens_in + tokens_out}})

    def reply_content(self, content: Any, stop: str, tokens_in: int = 1200, tokens_out: int = 150,
                      **message: Any) -> None:
        """A successful reply whose content is given in this API's own shape, with any stop reason:
        Converse/Anthropic content block lists (empty; reasoning, tool-use and text blocks mixed),
        or OpenAI's ``message.content`` (None, a string, parts; ``message`` adds e.g. ``refusal``)."""
        if self.kind == "bedrock":
            self.reply_json(200, {"output": {"message": {"role": "assistant", "content": content}},
                                  "stopReason": stop,
                                  "usage": {"inputTokens": tokens_in, "outputTokens": tokens_out,
                                            "totalTokens": tokens_in + tokens_out},
                                  "metrics": {"latencyMs": 640}})
        elif self.kind == "anthropic":
            self.reply_json(200, {"id": "msg_02", "type": "message", "role": "assistant",
                                  "model": "claude-sonnet-4-5-20250929", "content": content,
                                  "stop_reason": stop,
                                  "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}})
        else:
            answer = {"role": "assistant", "content": content, **message}
            self.reply_json(200, {"id": "chatcmpl-2", "object": "chat.completion", "model": "qwen2.5-coder",
                                  "choices": [{"index": 0, "finish_reason": stop, "message": answer}],
                                  "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                                            "total_tokens": tokens_in + tokens_out}})

    def reply_error(self, status: int, code: str = "", message: str = "error",
                    headers: dict[str, str] | None = None) -> None:
        """An error in this API's shape (``code``: the AWS error type for Bedrock). Anthropic's 429
        carries ``retry-after: 7`` unless ``headers`` says otherwise; the others send only
        ``headers``."""
        if self.kind == "bedrock":
            self.reply_json(status, {"message": message},
                            {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/", **(headers or {})})
        elif self.kind == "anthropic":
            default = {"retry-after": "7"} if status == 429 else {}
            error = {"type": code or "api_error", "message": message}
            sent = default if headers is None else headers
            self.reply_json(status, {"type": "error", "error": error}, sent)
        else:
            self.reply_json(status, {"error": {"message": message, "type": code or "server_error"}}, headers)

    # ----------------------------------------------------------------- serving
    def _next(self) -> Scripted:
        with self._lock:
            if self.queue:
                return self.queue.popleft()
        return Scripted(500, b'{"message": "unscripted request"}', {"content-type": "application/json"})


def _handler_for(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
            return

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            route = _ROUTES[server.kind].match(self.path.split("?")[0])
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            model = unquote(route.group("model")) if route and "model" in route.groupdict() else None
            with server._lock:
                server.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                body, model))
            reply = self._not_found() if route is None else server._next()
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def _not_found(self) -> Scripted:
            return Scripted(404, json.dumps({"message": f"no route {self.path}"}).encode(),
                            {"content-type": "application/json"})

    return Handler
