from reports.weekly import trend, week_over_week


def test_week_over_week():
    rows = week_over_week([100.0, 120.0, 90.0])
    assert [r["change_pct"] for r in rows] == [None, 20.0, -25.0]


def test_trend_needs_two_weeks():
    assert trend([100.0]) is None
    assert trend([]) is None
