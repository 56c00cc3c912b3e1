"""Lambda entry point: load the configuration file sent in the event body."""

from appconfig.loader import load


def handler(event, context):
    cfg = load(event["body"], {})
    return {"statusCode": 200, "port": cfg.port}
