"""Lambda entry point: route an expense claim to its approvers."""

from org.chart import approvers


def handler(event, context):
    return {"approvers": approvers(event["managers"], event["person"])}
