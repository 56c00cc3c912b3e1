"""Lambda entry point: the nightly digest of one account."""

from notify.digest import build_digest


def handler(event, context):
    mail = build_digest(event["account"], event["notifications"])
    return {"to": mail["to"]}
