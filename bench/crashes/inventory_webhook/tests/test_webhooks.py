import json

import pytest

from inventory.stock import StockBook
from inventory.webhooks import handle_shipment_notice


def notice(**fields):
    body = {"shipment_id": "SH-1", "supplier_id": "ACME", "lines": []}
    body.update(fields)
    return {"body": json.dumps(body)}


def test_books_each_line_into_stock():
    book = StockBook({"BOLT-10": 5})
    resp = handle_shipment_notice(notice(lines=[{"sku": "bolt-10", "quantity": "20"},
                                                {"sku": "NUT-10", "quantity": 7}]), book)
    assert resp["statusCode"] == 200
    assert json.loads(resp["body"]) == {"shipment": "SH-1", "levels": {"BOLT-10": 25, "NUT-10": 7}}
    assert book.level("BOLT-10") == 25


def test_empty_shipment_changes_nothing():
    book = StockBook({"BOLT-10": 5})
    resp = handle_shipment_notice(notice(lines=[]), book)
    assert json.loads(resp["body"])["levels"] == {}
    assert book.level("BOLT-10") == 5


def test_rejects_non_positive_quantity():
    with pytest.raises(ValueError):
        handle_shipment_notice(notice(lines=[{"sku": "X", "quantity": 0}]), StockBook())
