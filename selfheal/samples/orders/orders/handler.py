"""HTTP routes of the orders service: API Gateway proxy event in, proxy response out."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from orders import catalog, labels, refunds, reports, tracking
from orders.pricing import LineItem, price_order
from orders.store import Order, OrderStore

logger = logging.getLogger("orders.handler")
store = OrderStore()


def _response(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}


def _body(event: dict[str, Any]) -> dict[str, Any]:
    payload = json.loads(event.get("body") or "{}")
    if not isinstance(payload, dict):
        raise ValueError("request body must be a JSON object")
    return payload


def _order(event: dict[str, Any]) -> Order | None:
    return store.get(event.get("pathParameters", {}).get("order_id", ""))


def create_order(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """POST /orders: price the basket and store the order."""
    order = _body(event)
    lines = []
    for entry in order["order_items"]:
        try:
            product = catalog.get_product(entry["sku"])
        except catalog.UnknownProduct:
            return _response(400, {"message": f"unknown product {entry['sku']}"})
        lines.append(LineItem(product.sku, product.price, int(entry.get("quantity", 1))))
    totals = price_order(lines, promo_code=order.get("promo_code"))
    placed_on = date.fromisoformat(order.get("placed_on") or date.today().isoformat())
    saved = store.add(order.get("customer_id", "guest"), placed_on, lines, totals)
    logger.info("order %s created: %d lines, total %s", saved.order_id, len(lines), totals.grand_total)
    return _response(201, {"order_id": saved.order_id, "total": str(totals.grand_total),
                           "discount": str(totals.discount), "shipping": str(totals.shipping)})


def get_tracking(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """GET /orders/{order_id}/tracking."""
    order = _order(event)
    if order is None:
        return _response(404, {"message": "no such order"})
    return _response(200, tracking.latest_status(order))


def get_label(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """GET /orders/{order_id}/label: the shipping label as text."""
    order = _order(event)
    if order is None:
        return _response(404, {"message": "no such order"})
    return _response(200, {"label": labels.shipping_label(order)})


def post_refund(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """POST /orders/{order_id}/refunds."""
    order = _order(event)
    if order is None:
        return _response(404, {"message": "no such order"})
    request = _body(event)
    try:
        amount = refunds.refund_amount(order, request["sku"], int(request.get("quantity", 1)))
    except refunds.RefundRefused as exc:
        return _response(409, {"message": str(exc)})
    return _response(200, {"order_id": order.order_id, "refund": str(amount)})


def get_daily_report(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """GET /reports/daily?date=YYYY-MM-DD."""
    day = date.fromisoformat((event.get("queryStringParameters") or {}).get("date", ""))
    return _response(200, {"date": day.isoformat(), **reports.daily_summary(store.placed_on(day))})


ROUTES = {
    ("POST", "/orders"): create_order,
    ("GET", "/orders/{order_id}/tracking"): get_tracking,
    ("GET", "/orders/{order_id}/label"): get_label,
    ("POST", "/orders/{order_id}/refunds"): post_refund,
    ("GET", "/reports/daily"): get_daily_report,
}


def route(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Dispatch a proxy event to its route; unknown routes are 404."""
    target = ROUTES.get((event.get("httpMethod", ""), event.get("resource", "")))
    if target is None:
        return _response(404, {"message": "no such route"})
    return target(event, context)
