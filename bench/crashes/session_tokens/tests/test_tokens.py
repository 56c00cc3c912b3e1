from sessions.tokens import issue, verify

SECRET = b"k" * 32


def test_round_trip():
    token = issue(SECRET, "ana", now=1_000_000)
    assert verify(SECRET, token, now=1_000_010) == "ana"


def test_expired_token_is_rejected():
    token = issue(SECRET, "ana", ttl=5, now=1_000_000)
    assert verify(SECRET, token, now=1_000_010) is None


def test_tampered_token_is_rejected():
    user, expiry, sig = issue(SECRET, "ana", now=1_000_000).split(".")
    assert verify(SECRET, f"bob.{expiry}.{sig}", now=1_000_001) is None
