"""Lambda entry point: verify a session token."""

from sessions.tokens import verify


def handler(event, context):
    return {"user": verify(b"k" * 32, event["token"], algorithm=event["algorithm"])}
