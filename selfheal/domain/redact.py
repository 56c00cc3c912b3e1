"""Redaction of secrets and personal data before text reaches a model, a pull request or a log.

Every built-in pattern is linear in the input: token patterns only start where a token run starts
(a negative look-behind on the token alphabet), quantifiers are bounded, and PEM blocks are cut
with ``str.find`` rather than a lazy ``.*?``. So a multi-megabyte log line of ``eyJeyJ...`` or
``aaaa...`` costs one pass, not a quadratic backtrack. Extra patterns from settings are compiled
as given; their author is responsible for their complexity.

Payment card numbers (13-19 digits, plain or grouped by spaces or dashes) are redacted when an
issuer prefix and the Luhn checksum say so; the e-mail rule needs a local part that starts with a
letter or digit, so decorators in a diff (``+@pytest.mark.parametrize``) are left alone.

Replacements look like ``[REDACTED:kind]`` so a reviewer sees that (and what kind of) data was
removed. Redacted source no longer matches the repository byte for byte: an edit whose SEARCH text
spans a redaction does not apply, which is the safe outcome.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from selfheal import known_secrets
from selfheal.domain.records import FrameRef
from selfheal.errors import ConfigurationError

_TOK = r"A-Za-z0-9_\-"  # the alphabet of token-like runs

_SECRET_NAMES = (r"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth"
                 r"|credentials?|private[_-]?key|client[_-]?secret|signing[_-]?key|session[_-]?key)")

# name = value / name: value / "name": "value"; the name must end in a secret word.
_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{0,63})(?P<q1>[\"']?)"
    r"(?P<sep>[ \t]{0,4}(?:=|:|=>)[ \t]{0,4})(?P<q2>[\"']?)"
    # The value excludes the separators and is possessive: a scan ends at the next "=" or ":", so
    # "x=x=x=..." costs one pass (each start scans only its own value).
    r"(?P<value>[^\s\"'`,;&(){}\[\]<>=:]{1,512}+={0,3})(?=[\s\"'`,;&)}\]>]|$)"
)

_NON_IDENT = re.compile(r"[^A-Za-z_.]")
_HIGH_ENTROPY_MIN_LEN = 20
_HIGH_ENTROPY_BITS = 4.0
_NOT_SECRETS = frozenset({"none", "null", "true", "false", "nil", "undefined", "redacted", "****",
                          "changeme", "xxx", "self"})


@dataclass(frozen=True)
class Rule:
    """One kind of secret: a compiled pattern and how to rewrite a match."""

    kind: str
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str | None]  # None keeps the match


def _whole(kind: str) -> Callable[[re.Match[str]], str | None]:
    return lambda m: f"[REDACTED:{kind}]"


def _url_password(m: re.Match[str]) -> str | None:
    return f"://{m.group(1)}:[REDACTED:url-password]@"


def _bearer(m: re.Match[str]) -> str | None:
    return f"{m.group(1)} [REDACTED:bearer-token]"


def shannon_bits(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(value: str) -> bool:
    if len(value) < _HIGH_ENTROPY_MIN_LEN or "/" in value.strip("/") and value.count("/") > 2:
        return False  # long paths are not secrets
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value),
                   any(c.isdigit() for c in value)))
    return classes >= 2 and shannon_bits(value) >= _HIGH_ENTROPY_BITS


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits holds (what every payment card number satisfies)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(m: re.Match[str]) -> str | None:
    digits = re.sub(r"[ -]", "", m.group(0))
    # Issuer prefixes (2: Mastercard, 3: Amex/Diners/JCB, 4: Visa, 5: Mastercard, 6: Discover...)
    # and the checksum: a 16-digit id, an epoch in milliseconds or an order number rarely passes both.
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456" or not luhn_valid(digits):
        return None
    return "[REDACTED:card-number]"


def _assignment(m: re.Match[str]) -> str | None:
    value = m.group("value")
    if value.lower() in _NOT_SECRETS or value.startswith("[REDACTED"):
        return None
    named = re.search(_SECRET_NAMES + r"$", m.group("name"), re.IGNORECASE) is not None
    # Unquoted, a purely alphabetic value after a secret name is code far more often than a
    # secret (``token=token``, ``token: bytes``, ``api_key = settings.api_key``): keep those.
    literal = bool(m.group("q2")) or _NON_IDENT.search(value) is not None
    if named and len(value) >= 4 and literal:
        kind = "secret"
    elif _looks_random(value):
        kind = "high-entropy"
    else:
        return None
    return f"{m.group('name')}{m.group('q1')}{m.group('sep')}{m.group('q2')}[REDACTED:{kind}]"


BUILTIN_RULES: tuple[Rule, ...] = (
    Rule("aws-access-key", re.compile(rf"(?<![{_TOK}])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{{16}}(?![{_TOK}])"),
         _whole("aws-access-key")),
    Rule("aws-secret-key", re.compile(
        r"(?i)((?<![A-Za-z0-9_])(?:aws_?)?secret_?access_?key[\"']?[ \t]{0,4}[:=][ \t]{0,4}[\"']?)"
        r"[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"), lambda m: f"{m.group(1)}[REDACTED:aws-secret-key]"),
    Rule("github-token", re.compile(
        rf"(?<![{_TOK}])(?:gh[pousr]_[A-Za-z0-9]{{36,255}}|github_pat_[A-Za-z0-9_]{{22,255}})(?![{_TOK}])"),
         _whole("github-token")),
    Rule("slack-token", re.compile(rf"(?<![{_TOK}])xox[abposre]-[A-Za-z0-9\-]{{10,250}}"),
         _whole("slack-token")),
    Rule("slack-webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]{10,200}"),
         _whole("slack-webhook")),
    Rule("jwt", re.compile(
        rf"(?<![{_TOK}])eyJ[{_TOK}]{{5,4096}}\.eyJ[{_TOK}]{{5,8192}}\.[{_TOK}]{{0,4096}}"), _whole("jwt")),
    Rule("bearer-token", re.compile(r"(?i)(?<![A-Za-z0-9_])(bearer)[ \t]{1,4}[A-Za-z0-9\-._~+/]{8,4096}=*"),
         _bearer),
    Rule("url-password", re.compile(r"://([^\s:/@\"']{1,256}):([^\s@/\"']{1,256})@"), _url_password),
    # The local part starts with a letter or digit: a diff line "+@pytest.mark.parametrize" or
    # "-@decorator" is code, not an address; so is "a@b.method(" (matrix product, then a call).
    Rule("email", re.compile(
        r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9\-]{1,63}"
        r"(?:\.[A-Za-z0-9\-]{1,63}){0,7}\.[A-Za-z]{2,24}(?!\.?[A-Za-z0-9_(\-])"), _whole("email")),
    # 13-19 digits, optionally grouped by single spaces or dashes; kept unless the checksum holds.
    Rule("card-number", re.compile(r"(?<![0-9A-Za-z_.\-])[0-9](?:[ -]?[0-9]){12,18}(?![0-9A-Za-z_])"),
         _card),
    Rule("assignment", _ASSIGNMENT, _assignment),
)

_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY( BLOCK)?-----")
_PEM_END = "-----END "


@dataclass
class Redactor:
    """Applies the built-in rules plus ``extra_patterns`` and counts what it removed."""

    extra_patterns: Sequence[str] = ()
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._extra: list[re.Pattern[str]] = []
        for pattern in self.extra_patterns:
            try:
                self._extra.append(re.compile(pattern))
            except re.error as exc:
                raise ConfigurationError(f"invalid redact pattern {pattern!r}: {exc}") from exc

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret replaced by ``[REDACTED:kind]``: the values this
        process knows (and their encodings, ``selfheal.known_secrets``) first, then the patterns."""
        if not text:
            return text
        text, known = known_secrets.scrub(text)
        if known:
            self.counts["known-secret"] += known
        text = self._redact_pem(text)
        for rule in BUILTIN_RULES:
            text = self._apply(rule, text)
        for pattern in self._extra:
            text = self._apply(Rule("custom", pattern, _whole("custom")), text)
        return text

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def _apply(self, rule: Rule, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            new = rule.replace(m)
            if new is None:
                return m.group(0)
            self.counts[rule.kind] += 1
            return new

        return rule.pattern.sub(sub, text)

    def _redact_pem(self, text: str) -> str:
        # str.find from the last position keeps this one pass, even with many unclosed BEGINs.
        out: list[str] = []
        pos = 0
        while True:
            m = _PEM_BEGIN.search(text, pos)
            if m is None:
                out.append(text[pos:])
                return "".join(out)
            out.append(text[pos:m.start()])
            end = text.find(_PEM_END, m.end())
            if end == -1:
                # No END marker (a cut log line): drop the rest of the line.
                stop = text.find("\n", m.end())
                stop = len(text) if stop == -1 else stop
            else:
                close = text.find("-----", end + len(_PEM_END))
                stop = len(text) if close == -1 else close + 5
            out.append("[REDACTED:private-key]")
            self.counts["private-key"] += 1
            pos = stop


def redact_frames(frames: Iterable[FrameRef], redactor: Redactor) -> list[FrameRef]:
    """``frames`` with each stored source line redacted (they are stored and shown like the trace)."""
    return [f.model_copy(update={"source": redactor.redact(f.source)}) if f.source else f for f in frames]


def redact(text: str, extra_patterns: Sequence[str] = ()) -> str:
    """Redact ``text`` with the built-in rules plus ``extra_patterns`` (regular expressions)."""
    return Redactor(extra_patterns).redact(text)
