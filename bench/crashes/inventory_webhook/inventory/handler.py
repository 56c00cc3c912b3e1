"""Lambda entry point: the supplier's shipment webhook."""

from inventory.stock import StockBook
from inventory.webhooks import handle_shipment_notice


def handler(event, context):
    return handle_shipment_notice(event, StockBook())
