"""Lambda entry point: weekly payroll of one timesheet."""

from payroll.weekly import gross_pay


def handler(event, context):
    return gross_pay(event)
