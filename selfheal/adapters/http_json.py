"""JSON over HTTP with the standard library, with HTTP failures mapped to our error classes.

Shared by the HTTP model providers (Anthropic, OpenAI-compatible); no SDK is needed. Error bodies
are quoted shortened in messages; request bodies (prompts, source) never are.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from typing import Any

from selfheal.errors import ModelReplyMalformed, ModelRequestRejected, ModelThrottled, ModelUnavailable

ERROR_SNIPPET_CHARS = 300
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


def retry_after_header(headers: Any) -> float | None:
    """The wait a 429 asks for, in seconds: ``retry-after-ms`` (OpenAI), else ``retry-after``
    (seconds or an HTTP date); None when neither is sent or readable."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    try:
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _snippet(raw: bytes) -> str:
    text = raw[:ERROR_SNIPPET_CHARS].decode("utf-8", "replace")
    return " ".join(text.split())


def post_json(url: str, body: dict[str, Any], headers: dict[str, str], *, provider: str, timeout: float,
              opener: urllib.request.OpenerDirector | None = None) -> dict[str, Any]:
    """POST ``body`` as JSON and return the decoded JSON object.

    429 -> ``ModelThrottled`` carrying the provider's ``Retry-After``; 408, 409, 5xx (and
    Anthropic's 529) or a connection/timeout failure -> ``ModelUnavailable``; other 4xx ->
    ``ModelRequestRejected``; a body that is not a JSON object -> ``ModelReplyMalformed``.
    """
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"content-type": "application/json", "accept": "application/json",
                                          **headers})
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=timeout) as resp:
            raw = resp.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        detail = _snippet(exc.read() if exc.fp is not None else b"")
        code = exc.code
        if code == 429:
            wait = retry_after_header(exc.headers)
            hint = f"; retry after {wait:.0f}s" if wait is not None else ""
            raise ModelThrottled(f"{provider} throttled the call (HTTP 429): {detail}{hint}",
                                 retry_after=wait) from None
        if code in (408, 409) or code >= 500:
            raise ModelUnavailable(f"{provider} failed transiently (HTTP {code}): {detail}") from None
        raise ModelRequestRejected(f"{provider} rejected the request (HTTP {code}): {detail}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelUnavailable(f"{provider} unreachable at {url}: {reason}") from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise ModelReplyMalformed(f"{provider} response is larger than {MAX_RESPONSE_BYTES} bytes")
    try:
        decoded = json.loads(raw)
    except ValueError:
        raise ModelReplyMalformed(f"{provider} response is not JSON: {_snippet(raw)}") from None
    if not isinstance(decoded, dict):
        raise ModelReplyMalformed(f"{provider} response is not a JSON object")
    return decoded


def as_int(value: Any) -> int:
    """A token count from a provider's usage block (missing or odd values count as 0)."""
    return value if isinstance(value, int) and value >= 0 else 0
