from catalog_api.listing import handle


def get(**query):
    return handle({"queryStringParameters": {k: str(v) for k, v in query.items()}})


def test_first_page_defaults():
    resp = get()
    assert resp["statusCode"] == 200
    assert resp["body"]["pages"] == 3 and len(resp["body"]["items"]) == 20


def test_last_page_is_short():
    body = get(page=3)["body"]
    assert [p["sku"] for p in body["items"]][-1] == "SKU-0047" and len(body["items"]) == 7


def test_page_out_of_range_is_400():
    assert get(page=9)["statusCode"] == 400


def test_non_numeric_is_400():
    assert get(per_page="lots")["statusCode"] == 400
