"""Lambda entry point: POST /basket/price."""

from fx.convert import price_basket


def handler(event, context):
    return {"statusCode": 200, "body": price_basket(event)}
