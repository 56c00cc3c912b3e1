"""The PyGithub client selfheal uses, and GitHub's failures as errors named by condition:
rate limits carry the wait GitHub asks for (see ``rate_limit_wait``), 5xx and network failures are
retryable, 401/403/404/422 are not."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from github import Auth, Github, GithubException, RateLimitExceededException

from selfheal.errors import (
    CodeHostAuthFailed,
    CodeHostForbidden,
    CodeHostRateLimited,
    CodeHostUnavailable,
    ConfigurationError,
    SelfhealError,
)


def make_client(token: str | None, base_url: str | None = None, *, timeout: int = 15,
                throttle: bool = True) -> Github:
    """A PyGithub client; ``throttle=False`` turns off its client-side pacing and retries (tests,
    and the workflow, which retries with its own backoff)."""
    kwargs: dict[str, Any] = {"timeout": timeout}
    if base_url:
        kwargs["base_url"] = base_url.rstrip("/")
    if token:
        kwargs["auth"] = Auth.Token(token)
    if not throttle:
        kwargs.update(seconds_between_requests=0, seconds_between_writes=0, retry=None)
    return Github(**kwargs)


SECONDARY_LIMIT_WAIT_S = 60.0  # GitHub: "wait at least one minute" when a limit names no time


def _parse_retry_after(value: str, now: float) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (RFC 9110)."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, IndexError):
        return None


def rate_limit_wait(headers: dict[str, Any], now: float | None = None) -> float:
    """The wait GitHub asks for on a rate-limited response, in seconds.

    GitHub's rules: ``retry-after`` first; else, for a primary limit (``x-ratelimit-remaining:
    0``), until ``x-ratelimit-reset`` (epoch seconds, measured against the response's ``Date`` so
    a skewed local clock does not matter); else (a secondary limit) at least one minute. A reset
    time on a secondary limit is the primary window's and says nothing about this limit.
    """
    h = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    clock = time.time() if now is None else now
    if "retry-after" in h:
        wait = _parse_retry_after(h["retry-after"], clock)
        if wait is not None:
            return max(0.0, wait)
    reset = h.get("x-ratelimit-reset", "")
    if h.get("x-ratelimit-remaining", "").strip() == "0" and reset.strip().isdigit():
        server_now = _parse_retry_after(h["date"], 0.0) if "date" in h else None
        return max(1.0, float(reset) - (server_now if server_now is not None else clock))
    return SECONDARY_LIMIT_WAIT_S


def classify(exc: Exception, what: str) -> SelfhealError:
    """Map a PyGithub/requests failure to an error class named by condition."""
    if isinstance(exc, requests.exceptions.RequestException):
        return CodeHostUnavailable(f"{what}: cannot reach GitHub ({type(exc).__name__})")
    if not isinstance(exc, GithubException):
        return CodeHostUnavailable(f"{what}: {type(exc).__name__}: {exc}")
    status = exc.status
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or exc.message or "")
    details = "; ".join(str(e.get("message") or e.get("code")) for e in data.get("errors", [])
                        if isinstance(e, dict))
    text = f"{message} ({details})" if details else message
    headers = {str(k).lower(): v for k, v in (exc.headers or {}).items()}
    limited = status == 429 or isinstance(exc, RateLimitExceededException) or (
        status == 403 and ("retry-after" in headers or str(headers.get("x-ratelimit-remaining")) == "0"))
    if limited:
        wait = rate_limit_wait(headers)
        return CodeHostRateLimited(f"{what}: GitHub rate limit ({status}: {text}); retry after {wait:.0f}s",
                                   retry_after=wait)
    if status >= 500:
        return CodeHostUnavailable(f"{what}: GitHub error {status}: {text}")
    if status == 401:
        return CodeHostAuthFailed(f"{what}: GitHub rejected the token (401: {text})")
    if status in (403, 422):
        return CodeHostForbidden(f"{what}: GitHub refused ({status}: {text})")
    if status == 404:
        return ConfigurationError(f"{what}: not found, or the token cannot see it (404: {text})")
    return CodeHostForbidden(f"{what}: GitHub error {status}: {text}")
