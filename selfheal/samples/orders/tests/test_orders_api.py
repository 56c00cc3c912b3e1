import json

from orders.handler import route


def call(method, resource, path, body=None, order_id=None, query=None):
    event = {"httpMethod": method, "resource": resource, "path": path,
             "requestContext": {"requestId": "test"}}
    if body is not None:
        event["body"] = json.dumps(body)
    if order_id is not None:
        event["pathParameters"] = {"order_id": order_id}
    if query is not None:
        event["queryStringParameters"] = query
    response = route(event)
    return response["statusCode"], json.loads(response["body"])


def test_create_order_prices_the_basket():
    status, body = call("POST", "/orders", "/orders", {
        "customer_id": "C-1001",
        "order_items": [{"sku": "MUG-001", "quantity": 2}, {"sku": "LMP-014"}],
    })
    assert status == 201
    assert body["order_id"].startswith("O-")
    # 25.00 + 34.90 = 59.90, tax 4.79, flat shipping 6.95
    assert body["total"] == "71.64"
    assert body["shipping"] == "6.95"


def test_create_order_applies_promotion_and_free_shipping():
    status, body = call("POST", "/orders", "/orders", {
        "customer_id": "C-1002", "promo_code": "camp25",
        "order_items": [{"sku": "TNT-220", "quantity": 1}],
    })
    assert status == 201
    assert body["discount"] == "47.25"
    assert body["shipping"] == "0"


def test_unknown_product_is_a_client_error():
    status, body = call("POST", "/orders", "/orders", {"order_items": [{"sku": "NOPE-1"}]})
    assert status == 400
    assert "NOPE-1" in body["message"]


def test_tracking_of_a_shipped_order():
    status, body = call("GET", "/orders/{order_id}/tracking", "/orders/O-5000/tracking",
                        order_id="O-5000")
    assert status == 200
    assert body == {"order_id": "O-5000", "carrier": "DPD", "tracking_number": "15501234567890",
                    "status": "delivered"}


def test_tracking_of_an_unknown_order_is_404():
    status, _ = call("GET", "/orders/{order_id}/tracking", "/orders/O-1/tracking", order_id="O-1")
    assert status == 404


def test_label_of_a_registered_customer():
    status, body = call("GET", "/orders/{order_id}/label", "/orders/O-5000/label", order_id="O-5000")
    assert status == 200
    assert body["label"].splitlines() == ["Ana Lima", "12 Harbour Rd", "BS1 4DJ Bristol", "GB"]


def test_daily_report():
    status, body = call("GET", "/reports/daily", "/reports/daily", query={"date": "2024-05-06"})
    assert status == 200
    assert body["orders"] >= 3
    assert body["items_sold"] >= 5


def test_refund_more_than_bought_is_refused():
    status, body = call("POST", "/orders/{order_id}/refunds", "/orders/O-5000/refunds",
                        {"sku": "MUG-001", "quantity": 5}, order_id="O-5000")
    assert status == 409
    assert "cannot refund 5" in body["message"]


def test_unknown_route_is_404():
    status, _ = call("DELETE", "/orders", "/orders")
    assert status == 404
