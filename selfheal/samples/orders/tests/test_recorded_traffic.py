"""Replay of recorded production traffic (``requests.jsonl``, refreshed from the access logs).

Whatever a client sends, the service must answer it: a 4xx for a bad request, never a crash.
A red case here is a production crash waiting for a fix.
"""

import json
from pathlib import Path

import pytest

from orders.handler import route

RECORDED = [json.loads(line) for line in
            (Path(__file__).resolve().parents[1] / "requests.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("event", RECORDED, ids=[
    f"{e['requestContext']['requestId'][-4:]}-{e['httpMethod']}-{e['path']}" for e in RECORDED])
def test_recorded_request_gets_an_answer(event):
    response = route(event)
    assert 200 <= response["statusCode"] < 500
    json.loads(response["body"])
