"""An in-memory ``SourceRepository`` and a small realistic service for fix-generation tests."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from selfheal.domain.records import ErrorRecord, FrameRef
from selfheal.errors import SourceNotFound


class MemoryRepository:
    """A ``SourceRepository`` over a dict of path -> text at one revision."""

    def __init__(self, files: dict[str, str], revision: str = "c0ffee1234") -> None:
        self.files = dict(files)
        self.revision = revision

    def default_branch(self) -> str:
        return "main"

    def resolve(self, ref: str | None = None) -> str:
        if ref not in (None, "main", self.revision):
            raise SourceNotFound(f"unknown revision {ref}")
        return self.revision

    def list_files(self, revision: str) -> list[str]:
        self.resolve(revision)
        return sorted(self.files)

    def read_file(self, path: str, revision: str) -> str | None:
        self.resolve(revision)
        return self.files.get(path)

    @contextmanager
    def checkout(self, revision: str) -> Iterator[Path]:
        self.resolve(revision)
        with tempfile.TemporaryDirectory() as tmp:
            for path, text in self.files.items():
                target = Path(tmp) / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            yield Path(tmp)


HANDLER = '''"""HTTP routes of the billing service."""

from __future__ import annotations

import json
import logging

from billing.invoices import InvoiceBook, render_invoice
from billing.money import format_amount

log = logging.getLogger(__name__)
BOOK = InvoiceBook()


def _response(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}


def get_invoice(event: dict, context: object) -> dict:
    """GET /invoices/{id}: the rendered invoice."""
    invoice_id = event["pathParameters"]["id"]
    invoice = BOOK.find(invoice_id)
    if invoice is None:
        return _response(404, {"error": f"no invoice {invoice_id}"})
    return _response(200, {"invoice": render_invoice(invoice)})


def list_invoices(event: dict, context: object) -> dict:
    """GET /invoices: every invoice of a customer."""
    customer = (event.get("queryStringParameters") or {}).get("customer")
    rows = [render_invoice(i) for i in BOOK.for_customer(customer)]
    return _response(200, {"invoices": rows, "total": format_amount(sum(i["total"] for i in rows))})
'''

INVOICES = '''"""Invoices and their rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from billing.money import format_amount

VAT_RATES = {"GB": Decimal("0.20"), "DE": Decimal("0.19"), "FR": Decimal("0.20")}


@dataclass
class Invoice:
    invoice_id: str
    customer: str
    country: str
    lines: list[tuple[str, Decimal]] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return sum((amount for _, amount in self.lines), Decimal("0"))


class InvoiceBook:
    """Invoices by id."""

    def __init__(self) -> None:
        self._by_id: dict[str, Invoice] = {}

    def add(self, invoice: Invoice) -> None:
        self._by_id[invoice.invoice_id] = invoice

    def find(self, invoice_id: str) -> Invoice | None:
        return self._by_id.get(invoice_id)

    def for_customer(self, customer: str | None) -> list[Invoice]:
        return [i for i in self._by_id.values() if i.customer == customer]


def vat_for(invoice: Invoice) -> Decimal:
    """VAT due on the invoice at its country's rate."""
    rate = VAT_RATES[invoice.country]
    return (invoice.net * rate).quantize(Decimal("0.01"))


def render_invoice(invoice: Invoice) -> dict:
    """The invoice as the API returns it."""
    vat = vat_for(invoice)
    return {"id": invoice.invoice_id, "net": format_amount(invoice.net), "vat": format_amount(vat),
            "total": invoice.net + vat}
'''

MONEY = '''"""Money formatting."""

from decimal import Decimal


def format_amount(value: Decimal) -> str:
    return f"{value:.2f}"
'''

BILLING_FILES = {
    "src/billing/__init__.py": "",
    "src/billing/handler.py": HANDLER,
    "src/billing/invoices.py": INVOICES,
    "src/billing/money.py": MONEY,
    "tests/test_invoices.py": "def test_nothing():\n    assert True\n",
    ".github/workflows/ci.yml": "name: ci\non: [push]\n",
}

def line_of(text: str, needle: str) -> int:
    """1-based number of the line containing ``needle``."""
    for n, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not found")


L_HANDLER = line_of(HANDLER, 'return _response(200, {"invoice"')
L_RENDER = line_of(INVOICES, "vat = vat_for(invoice)")
L_VAT = line_of(INVOICES, "rate = VAT_RATES[invoice.country]")

BILLING_TRACE = f'''Traceback (most recent call last):
  File "/var/task/billing/handler.py", line {L_HANDLER}, in get_invoice
    return _response(200, {{"invoice": render_invoice(invoice)}})
  File "/var/task/billing/invoices.py", line {L_RENDER}, in render_invoice
    vat = vat_for(invoice)
  File "/var/task/billing/invoices.py", line {L_VAT}, in vat_for
    rate = VAT_RATES[invoice.country]
KeyError: 'US'
'''


def billing_record(message: str = "'US'", trace: str = BILLING_TRACE) -> ErrorRecord:
    """The KeyError record of the billing service (frames as ingest stores them)."""
    return ErrorRecord(
        fingerprint="f" * 40, exc_type="KeyError", message=message, count=7,
        first_seen=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        last_seen=datetime(2026, 11, 29, 8, 30, tzinfo=UTC),
        sample_trace=trace,
        frames=[
            FrameRef(file="/var/task/billing/handler.py", function="get_invoice",
                     line=L_HANDLER,
                     source='return _response(200, {"invoice": render_invoice(invoice)})'),
            FrameRef(file="/var/task/billing/invoices.py", function="render_invoice",
                     line=L_RENDER, source="vat = vat_for(invoice)"),
            FrameRef(file="/var/task/billing/invoices.py", function="vat_for",
                     line=L_VAT,
                     source="rate = VAT_RATES[invoice.country]"),
        ])
