"""Known secret values are scrubbed in every common encoding, wherever text leaves the process."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from selfheal import known_secrets
from selfheal.adapters.artifacts_fs import FsArtifactStore
from selfheal.adapters.secrets_env import EnvSecrets
from selfheal.domain.redact import Redactor

SECRET = "gl-Tk9/Qw+3xZ=vB7&nM2pL"  # characters that URL- and JSON-encoding change


@pytest.mark.parametrize("prefix", [b"", b"a", b"ab", b"abc", b"abcd"])
def test_every_encoding_at_every_alignment(prefix: bytes) -> None:
    data = prefix + SECRET.encode() + b"!tail"
    forms = {
        "raw": SECRET,
        "reversed": SECRET[::-1],
        "hex": SECRET.encode().hex(),
        "HEX": SECRET.encode().hex().upper(),
        "url": quote(SECRET, safe=""),
        "url+": quote_plus(SECRET),
        "json": json.dumps({"k": SECRET})[7:-1],
        "base64": base64.b64encode(data).decode(),
        "base64url": base64.urlsafe_b64encode(data).decode(),
        "base32": base64.b32encode(data).decode(),
        "base32lower": base64.b32encode(data).decode().lower(),
    }
    for kind, form in forms.items():
        text, count = known_secrets.scrub(f"before {form} after", [SECRET])
        assert count >= 1 and form not in text, kind
        assert text.startswith("before ") and text.endswith(" after")


def test_values_come_from_the_secrets_port_and_credential_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_API_KEY", "envkey-1234567890")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # configuration, not a secret
    EnvSecrets(env={"SELFHEAL_SECRET_GITHUB_TOKEN": "port-value-abcdefgh"}).get("github_token")
    redactor = Redactor()
    out = redactor.redact("a=port-value-abcdefgh b=envkey-1234567890 region eu-central-1")
    assert out == "a=[REDACTED:known-secret] b=[REDACTED:known-secret] region eu-central-1"
    assert redactor.counts["known-secret"] == 2


def test_short_values_are_not_scrubbed() -> None:
    known_secrets.register("abc", "1234567")
    assert known_secrets.scrub("abc 1234567") == ("abc 1234567", 0)


def test_artifacts_are_scrubbed_when_stored(tmp_path: Path) -> None:
    known_secrets.register(SECRET)
    store = FsArtifactStore(tmp_path)
    ref = store.put_bytes("a/reply.json", json.dumps({"text": f"key {SECRET}"}).encode())
    stored = store.get_bytes(ref).decode()
    assert SECRET not in stored and json.loads(stored) == {"text": "key [REDACTED:known-secret]"}
    binary = b"\xff\xfe" + SECRET.encode()
    assert store.get_bytes(store.put_bytes("a/blob", binary)) == binary  # not text: left as is
