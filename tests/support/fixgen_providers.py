"""Shared inputs of the provider tests: a real prompt, a good reply, an unused local port."""

from __future__ import annotations

import socket

from selfheal.domain.context import build_context
from selfheal.domain.fixing import FixContext, Prompt
from selfheal.domain.prompt import build_prompt
from selfheal.settings import Settings
from tests.support.fixgen_repo import BILLING_FILES, MemoryRepository, billing_record

GOOD_REPLY = """ROOT CAUSE: VAT_RATES has no entry for the invoice's country.
SUMMARY: charge no VAT where no rate is configured
<<<<<<< SEARCH src/billing/invoices.py
    rate = VAT_RATES[invoice.country]
=======
    rate = VAT_RATES.get(invoice.country, Decimal("0"))
>>>>>>> REPLACE
"""


def sample_context() -> FixContext:
    return build_context(billing_record(), MemoryRepository(BILLING_FILES))


def sample_prompt(settings: Settings | None = None) -> Prompt:
    return build_prompt(sample_context(), 1, None, settings or Settings())


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
