"""Secret values this process holds, and their common encodings, scrubbed from any text.

Pattern-based redaction (``selfheal.domain.redact``) recognises secrets by their shape; a value
it has never seen the shape of (an API key read from the ``Secrets`` port), or one re-encoded by
hostile code to dodge the patterns (a test that fails with the token in base32), passes it. This
module knows the values themselves:

- every value returned by a ``Secrets`` adapter is registered (``register``);
- credential environment variables (``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
  ``GITHUB_TOKEN``, ``*_API_KEY``, ``SELFHEAL_SECRET_*``, ...) are read on each scrub, so a value
  set later counts too. Reading the environment here, outside a composition root, is deliberate:
  a secret that only the environment holds must be known wherever text leaves the process.

``scrub`` replaces each value and its encodings with ``[REDACTED:known-secret]``: raw, reversed,
hex (both cases), URL-encoded, JSON-escaped, and base64 (standard and URL-safe) and base32 (both
cases) at every byte alignment, so the value is found inside a longer encoded blob too. Values shorter than
``MIN_LENGTH`` are ignored (too many false positives). ``Redactor.redact`` calls ``scrub``, so
everything redacted for a model, a pull request or the store is scrubbed as well; the artifact
stores call ``scrub_bytes`` on every blob they write.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, quote_plus

MIN_LENGTH = 8
_MIN_FRAGMENT = 10  # an encoded fragment shorter than this is too likely to occur by chance
REPLACEMENT = "[REDACTED:known-secret]"
# Names whose value is a secret (not merely configuration next to one, like AWS_REGION).
SECRET_ENV_PATTERNS = ("*SECRET*", "*TOKEN*", "*PASSWORD*", "*PASSWD*", "*_API_KEY", "*APIKEY*",
                       "*PRIVATE_KEY*", "*CREDENTIAL*", "*_AUTH", "SELFHEAL_SECRET_*")

_lock = threading.Lock()
_registered: set[str] = set()
_compiled: dict[frozenset[str], re.Pattern[str]] = {}


def register(*values: str | None) -> None:
    """Remember secret ``values`` (those of at least ``MIN_LENGTH`` characters) for ``scrub``."""
    with _lock:
        for value in values:
            if value and len(value.strip()) >= MIN_LENGTH:
                _registered.add(value.strip())


def forget_all() -> None:
    """Forget every registered value (tests)."""
    with _lock:
        _registered.clear()
        _compiled.clear()


def environment_secrets(env: Mapping[str, str] | None = None) -> set[str]:
    """Values of the credential variables of ``env`` (default ``os.environ``)."""
    env = os.environ if env is None else env
    return {v.strip() for k, v in env.items()
            if len(v.strip()) >= MIN_LENGTH and any(fnmatch.fnmatchcase(k.upper(), p)
                                                    for p in SECRET_ENV_PATTERNS)}


def _aligned(data: bytes, encode: Callable[[bytes], bytes], block: int, bits: int) -> list[str]:
    """The part of ``encode(prefix + data)`` that depends on ``data`` alone, for each prefix
    length: the value as it appears inside a longer encoded text at any byte offset."""
    out = []
    for k in range(block):
        text = encode(b"\0" * k + data).decode("ascii").rstrip("=")
        first = -(-k * 8 // bits)  # characters touched by the prefix
        last = (k + len(data)) * 8 // bits  # characters fully inside the data
        out.append(text[first:last])
    return out


def encodings(value: str) -> set[str]:
    """``value`` and the encodings of it that ``scrub`` removes."""
    data = value.encode("utf-8")
    found = {value, value[::-1], data.hex(), data.hex().upper(), quote(value, safe=""), quote_plus(value),
             json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        found.update(_aligned(data, enc, 3, 6))
    for b32 in _aligned(data, base64.b32encode, 5, 5):
        found.update((b32, b32.lower()))
    return {f for f in found if len(f) >= min(_MIN_FRAGMENT, len(value))}


def _pattern(values: frozenset[str]) -> re.Pattern[str]:
    with _lock:
        cached = _compiled.get(values)
    if cached is not None:
        return cached
    variants = sorted({e for v in values for e in encodings(v)}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(v) for v in variants))
    with _lock:
        if len(_compiled) > 32:
            _compiled.clear()
        _compiled[values] = pattern
    return pattern


def known_values(extra: Iterable[str] = ()) -> frozenset[str]:
    """Every value ``scrub`` looks for now: registered, from the environment, and ``extra``."""
    with _lock:
        registered = set(_registered)
    return frozenset(registered | environment_secrets() | {e for e in extra if len(e) >= MIN_LENGTH})


def scrub(text: str, extra: Iterable[str] = ()) -> tuple[str, int]:
    """``text`` with every known secret value and encoding replaced; and how many were."""
    if not text:
        return text, 0
    values = known_values(extra)
    if not values:
        return text, 0
    return _pattern(values).subn(REPLACEMENT, text)


def scrub_bytes(data: bytes) -> bytes:
    """``scrub`` for a stored blob: UTF-8 text is scrubbed, anything else is returned as is."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    clean, count = scrub(text)
    return clean.encode("utf-8") if count else data
