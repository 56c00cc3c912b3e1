"""Week-over-week sales table for the Monday report e-mail."""

from __future__ import annotations


def week_over_week(weekly_totals: list[float]) -> list[dict[str, float | None]]:
    """One row per week with the change from the week before (None for the first week)."""
    rows: list[dict[str, float | None]] = []
    for i in range(len(weekly_totals)):
        previous = weekly_totals[i - 1] if i else None
        change = None if previous in (None, 0) else round((weekly_totals[i] - previous) / previous * 100, 1)
        rows.append({"week": i + 1, "total": weekly_totals[i], "change_pct": change})
    return rows


def trend(weekly_totals: list[float], window: int = 4) -> float | None:
    """Average weekly change over the last ``window`` weeks."""
    if len(weekly_totals) < 2:
        return None
    recent = weekly_totals[-window:]
    diffs = [recent[i + 1] - recent[i] for i in range(len(recent))]
    return round(sum(diffs) / len(diffs), 2)
