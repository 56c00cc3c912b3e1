from labels.customs import label, needs_customs


def test_domestic_parcels_need_no_customs():
    assert not needs_customs("gb")
    out = label({"address": "1 High St, York", "country": "GB", "weight_kg": 1.234})
    assert out == {"to": "1 High St, York", "weight_kg": 1.23, "customs": None}


def test_abroad_needs_customs():
    assert needs_customs("FR")
