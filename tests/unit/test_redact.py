"""Redaction on realistic traces; every built-in pattern stays linear on hostile input."""

from __future__ import annotations

import pytest

from selfheal.domain.redact import Redactor, redact, shannon_bits
from selfheal.errors import ConfigurationError

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
       ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
       ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SLACK = "xoxb-2411120931-4418829347-Zp7kQ8bX1nM4aL9vR2cT6yW3"
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2d5bXo\n"
       "q8n0aF3Zk9Lr2Wc=\n-----END RSA PRIVATE KEY-----")

TRACE = f'''2026-11-29T08:14:03Z ERROR payments request failed user=ana.lima@example.co.uk
Traceback (most recent call last):
  File "/var/task/payments/client.py", line 88, in charge
    resp = session.post(url, headers={{"Authorization": "Bearer {JWT}"}}, json=body)
  File "/var/task/payments/client.py", line 41, in _connect
    engine = create_engine("postgresql://billing:S3cr3t-P4ss@db.internal:5432/billing")
  File "/var/task/payments/settings.py", line 12, in load
    boto3.client("s3", aws_access_key_id="{AWS_KEY}", aws_secret_access_key="{AWS_SECRET}")
botocore.exceptions.ClientError: An error occurred (InvalidAccessKeyId) token={GH} slack={SLACK}
  api_key = "q9X2vLm7Rt4pZa8KcW3nYb6DfH1jUe5s"  signing_secret: hunter2hunter2
{PEM}
'''


def test_realistic_trace_loses_every_secret_and_keeps_the_structure() -> None:
    r = Redactor()
    out = r.redact(TRACE)
    for secret in (AWS_KEY, AWS_SECRET, JWT, GH, SLACK, "S3cr3t-P4ss", "ana.lima@example.co.uk",
                   "q9X2vLm7Rt4pZa8KcW3nYb6DfH1jUe5s", "hunter2hunter2",
                   "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2d5bXo"):
        assert secret not in out, secret
    # What the fixer needs survives: frames, code, exception type.
    assert 'File "/var/task/payments/client.py", line 88, in charge' in out
    assert "botocore.exceptions.ClientError: An error occurred (InvalidAccessKeyId)" in out
    assert "postgresql://billing:[REDACTED:url-password]@db.internal:5432/billing" in out
    assert '"Authorization": "Bearer [REDACTED:jwt]"' in out
    assert 'aws_secret_access_key="[REDACTED:aws-secret-key]"' in out
    assert redact("curl -H 'Authorization: Bearer 8f1Kq2LmZx9PwR4t'") == (
        "curl -H 'Authorization: Bearer [REDACTED:bearer-token]'")
    assert "[REDACTED:private-key]" in out and "-----END" not in out
    assert r.counts["aws-access-key"] == 1 and r.counts["email"] == 1 and r.counts["private-key"] == 1
    assert r.total >= 9


@pytest.mark.parametrize("text", [
    'File "/app/orders/handler.py", line 12, in create_order',
    "KeyError: 'customer_id'",
    "total = order.lines[0].unit_price * quantity",
    "password = request.json['password']",  # code reading a secret is not a secret
    "token = None",
    "revision = main",
    "ZeroDivisionError: division by zero",
    "self.session_key = self._new_key()",
    "checksum = 'd41d8cd98f00b204e9800998ecf8427e'",  # hex digest: low entropy, no secret name
    "    token: bytes",  # annotations, keyword passing and attribute reads are code
    "client = Client(token=token, api_key=settings.api_key)",
    "password: Optional[str] = None",
    "def login(username: str, password: str) -> Session:",
])
def test_ordinary_code_and_messages_are_untouched(text: str) -> None:
    assert redact(text) == text


def test_secret_names_redact_values_and_entropy_catches_unnamed_keys() -> None:
    assert redact("DB_PASSWORD=correct-horse") == "DB_PASSWORD=[REDACTED:secret]"
    assert redact('PASSWORD = "swordfish"') == 'PASSWORD = "[REDACTED:secret]"'  # a literal in code
    assert redact("login failed password=hunter2 user=7") == "login failed password=[REDACTED:secret] user=7"
    assert redact('{"client_secret": "abc123xyz"}') == '{"client_secret": "[REDACTED:secret]"}'
    out = redact('STRIPE = "sk_live_51HqLyjWDarjtT1zdp7dcXt9aBc"')
    assert out == 'STRIPE = "[REDACTED:high-entropy]"'
    assert shannon_bits("aaaa") == 0.0 and shannon_bits("ab") == 1.0


def test_extra_patterns_and_bad_pattern() -> None:
    r = Redactor(extra_patterns=[r"ACME-[0-9]{6}"])
    assert r.redact("customer ACME-123456 failed") == "customer [REDACTED:custom] failed"
    assert r.counts["custom"] == 1
    with pytest.raises(ConfigurationError, match="invalid redact pattern"):
        Redactor(extra_patterns=["(unclosed"])


def test_unterminated_pem_is_cut_to_end_of_line() -> None:
    out = redact("key: -----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nnext line")
    assert out == "key: [REDACTED:private-key]\nnext line"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("hostile", [
    "eyJ" * 300_000,  # JWT prefix forever, no dots
    "eyJa." * 200_000,
    "a" * 1_000_000,  # a token run with no end
    "a@" * 400_000,
    "x=" * 400_000,
    "://" + "u" * 500_000,
    "-----BEGIN PRIVATE KEY-----" * 40_000,  # many unclosed PEM blocks
    "Bearer " * 150_000,
    ("password = " + "z" * 600) * 2_000,
])
def test_hostile_input_is_linear(hostile: str) -> None:
    # A quadratic pattern needs hours on a megabyte; the timeout fails the test long before that.
    out = redact(hostile)
    assert isinstance(out, str) and len(out) > 0
