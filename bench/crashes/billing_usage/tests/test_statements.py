from datetime import date

from billing.statements import Account, charges, statement


def test_charges_only_priced_meters():
    assert charges({"api_calls": 10000, "egress_gb": 10, "beta_feature": 5}) == {"api_calls": 4.0, "egress_gb": 0.9}


def test_statement_mid_month():
    acct = Account("A-1", date(2023, 1, 5))
    st = statement(acct, {"api_calls": 100000, "egress_gb": 20}, date(2024, 3, 1), date(2024, 3, 11))
    assert st["total"] == 41.8
    assert st["average_per_day"] == 4.18
    assert st["projected"] == 125.4


def test_new_account_counts_from_creation():
    acct = Account("A-2", date(2024, 3, 9))
    st = statement(acct, {"api_calls": 50000}, date(2024, 3, 1), date(2024, 3, 11))
    assert st["average_per_day"] == 10.0
