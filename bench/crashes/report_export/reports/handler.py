"""Lambda entry point: the Monday report."""

from reports.weekly import trend, week_over_week


def handler(event, context):
    rows = week_over_week(event["weekly_totals"])
    return {"weeks": len(rows), "trend": trend(event["weekly_totals"])}
