"""Lambda entry point: GET /products (API Gateway proxy event)."""

from catalog_api.listing import handle


def handler(event, context):
    return handle(event)
