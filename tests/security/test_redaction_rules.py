"""The card and e-mail rules case by case: what must go, and code that must stay."""

from __future__ import annotations

import pytest

from selfheal.domain.redact import luhn_valid, redact


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "378282246310005",
        "3782 822463 10005",
        "5500 0000 0000 0004",
        "6011111111111117",
        "2223003122003222",
        "4000056655665556",
    ],
)
def test_card_numbers_are_redacted(card: str) -> None:
    assert redact(f"paid with {card}, thanks") == "paid with [REDACTED:card-number], thanks"


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 failed",  # checksum fails
        "epoch ms 1700000000000 and 1733480000000",  # no issuer prefix
        "id 1234567890123456",
        "phone 555 1234",  # too short
        "uuid 4111111111111111111111",  # too long: not a card
        "v4111111111111111",
    ],
)  # part of a word
def test_numbers_that_are_not_cards_stay(text: str) -> None:
    assert redact(text) == text


def test_luhn() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


@pytest.mark.parametrize(
    "code",
    [
        "+@pytest.mark.parametrize('x', [1, 2])",
        "-@pytest.fixture(scope='module')",
        "    @pytest.mark.parametrize('x', [1])",
        "+    @app.route('/users')",
        "result = a@np.linalg.inv(b)",
        "m = x@y.T",
    ],
)
def test_decorators_and_matrix_products_are_not_emails(code: str) -> None:
    assert redact(code) == code


@pytest.mark.parametrize("mail", ["ops@example.com", "first.last+tag@mail.example.co.uk", "a1@b-c.io"])
def test_addresses_are_redacted(mail: str) -> None:
    assert redact(f"sent to {mail}.") == "sent to [REDACTED:email]."
