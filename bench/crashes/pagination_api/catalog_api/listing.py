"""``GET /products?page=N&per_page=M``: one page of the catalogue plus paging metadata."""

from __future__ import annotations

import math
from typing import Any

PRODUCTS = [{"sku": f"SKU-{n:04d}", "name": f"Product {n}"} for n in range(1, 48)]


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None


class BadRequest(ValueError):
    """The request is invalid; answered with HTTP 400."""


def list_products(query: dict[str, str]) -> dict[str, Any]:
    page = _int_param(query, "page", 1)
    per_page = _int_param(query, "per_page", 20)
    pages = math.ceil(len(PRODUCTS) / per_page)
    if page < 1 or page > max(pages, 1):
        raise BadRequest(f"page must be between 1 and {pages}")
    start = (page - 1) * per_page
    return {"items": PRODUCTS[start:start + per_page], "page": page, "pages": pages, "total": len(PRODUCTS)}


def handle(event: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"statusCode": 200, "body": list_products(event.get("queryStringParameters") or {})}
    except BadRequest as exc:
        return {"statusCode": 400, "body": {"error": str(exc)}}
