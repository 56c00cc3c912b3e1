"""Lambda entry point: the import job, with the uploaded CSV in the event body."""

from contacts.importer import import_csv


def handler(event, context):
    contacts = import_csv(event["body"])
    return {"statusCode": 200, "imported": len(contacts)}
