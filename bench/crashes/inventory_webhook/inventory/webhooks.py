"""Supplier webhook: a shipment notice arrives when a delivery is booked into the warehouse."""

from __future__ import annotations

import json
import logging
from typing import Any

from inventory.stock import StockBook

log = logging.getLogger(__name__)


def handle_shipment_notice(event: dict[str, Any], book: StockBook) -> dict[str, Any]:
    """Book every line of a shipment notice into stock; answer with the new levels."""
    notice = json.loads(event["body"])
    supplier = notice["supplier_id"]
    received: dict[str, int] = {}
    for line in notice["lines"]:
        sku = line["sku"].strip().upper()
        received[sku] = book.receive(sku, int(line["quantity"]))
    log.info("shipment %s from %s: %d lines", notice["shipment_id"], supplier, len(received))
    return {"statusCode": 200, "body": json.dumps({"shipment": notice["shipment_id"], "levels": received})}
