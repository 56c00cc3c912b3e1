"""Lambda entry point: deliver one webhook event to its subscriber."""

from datetime import datetime

from hooks.delivery import Event, deliver


def handler(event, context):
    ev = Event(event["event_id"], event["url"], event["payload"], datetime.fromisoformat(event["received_at"]))
    return {"result": deliver(ev, lambda url, payload: event["subscriber_status"])}
