from datetime import datetime

from hooks.delivery import MAX_ATTEMPTS, Event, deliver, next_retry

T0 = datetime(2024, 4, 2, 12, 0, 0)


def test_successful_delivery():
    ev = Event("ev-1", "https://example.com/hook", {"a": 1}, T0)
    assert deliver(ev, lambda url, payload: 204) == {"event": "ev-1", "delivered": True}
    assert ev.history == ["attempt 1: HTTP 204"]


def test_gives_up_after_max_attempts():
    ev = Event("ev-2", "https://example.com/hook", {}, T0, attempts=MAX_ATTEMPTS)
    assert next_retry(ev) is None
