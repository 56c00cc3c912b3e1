from payroll.weekly import gross_pay


def sheet(*entries):
    return {"employee": "E-7", "hourly_rate": "18.50", "entries": list(entries)}


def test_regular_and_overtime():
    out = gross_pay(sheet({"regular_hours": 8, "overtime_hours": 2}, {"regular_hours": 8, "overtime_hours": 0}))
    assert out == {"employee": "E-7", "hours": "18.0", "gross": "351.50"}


def test_fractional_hours():
    out = gross_pay(sheet({"regular_hours": 7.5, "overtime_hours": 0.25}))
    assert out["gross"] == "145.69"
