"""Shared fixtures. AWS credentials are fake and point nowhere: moto intercepts every call."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before any boto3 client exists: no test may reach a real AWS endpoint.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"  # moto does not route account-id hosts
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the checkout (benchmark corpus), or skip when absent."""
    here = Path(__file__).resolve().parents[1]
    for cand in (here.parent / "shared", here.parent.parent / "shared"):
        if (cand / "bench").is_dir():
            return cand
    pytest.skip("../shared is not present beside this checkout")


@pytest.fixture(autouse=True)
def _forget_known_secrets() -> object:
    """Secret values one test's Secrets adapter read must not be scrubbed from the next test's text."""
    yield
    from selfheal import known_secrets

    known_secrets.forget_all()
