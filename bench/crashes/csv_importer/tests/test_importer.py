from contacts.importer import Contact, import_csv
from contacts.phones import normalize_phone

HEADER = "First Name,Last Name,Email,Phone,Country,Dial Code\n"


def test_uk_rows_get_plus_44():
    rows = import_csv(HEADER + "Ada,Lovelace,ADA@example.com,07700 900123,GB,44\n")
    assert rows == [Contact("Ada Lovelace", "ada@example.com", "+447700900123")]


def test_rows_without_email_are_skipped():
    assert import_csv(HEADER + "No,Mail,,07700 900123,GB,44\n") == []


def test_missing_phone_is_none():
    assert import_csv(HEADER + "Alan,Turing,alan@example.com,,GB,44\n")[0].phone is None


def test_normalize_keeps_explicit_plus():
    assert normalize_phone("+1 (415) 555-0100") == "+14155550100"
    assert normalize_phone("0033 1 23 45 67 89") == "+33123456789"
