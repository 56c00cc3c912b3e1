"""Lambda entry point: print a shipping label."""

from labels.customs import label


def handler(event, context):
    return label(event)
