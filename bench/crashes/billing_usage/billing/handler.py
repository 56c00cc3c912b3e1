"""Lambda entry point: GET /billing/statement."""

from datetime import date

from billing.statements import Account, statement


def handler(event, context):
    acct = Account(event["account_id"], date.fromisoformat(event["created_on"]))
    st = statement(acct, event["usage"], date.fromisoformat(event["period_start"]),
                   date.fromisoformat(event["today"]))
    return {"statusCode": 200, "total": str(st["total"])}
