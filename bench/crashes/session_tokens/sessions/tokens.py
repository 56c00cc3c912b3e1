"""Issue and verify signed session tokens: ``<user>.<expiry>.<signature>``."""

from __future__ import annotations

import hashlib
import hmac
import time


def _sign(secret: bytes, message: str, algorithm: str) -> str:
    if algorithm == "sha256":
        digest = hmac.new(secret, message.encode(), hashlib.sha256)
    else:
        # Tokens issued before the 2023 key rotation are still signed with SHA-1.
        digest = hmac.new(secret, message.encode(), hashlib.sha_1)
    return digest.hexdigest()


def issue(secret: bytes, user: str, ttl: int = 3600, now: float | None = None) -> str:
    expiry = int((now or time.time()) + ttl)
    return f"{user}.{expiry}.{_sign(secret, f'{user}.{expiry}', 'sha256')}"


def verify(secret: bytes, token: str, now: float | None = None, algorithm: str = "sha256") -> str | None:
    """The user of a valid, unexpired token; None otherwise."""
    try:
        user, expiry, signature = token.rsplit(".", 2)
    except ValueError:
        return None
    expected = _sign(secret, f"{user}.{expiry}", algorithm)
    if not hmac.compare_digest(expected, signature) or int(expiry) < (now or time.time()):
        return None
    return user
