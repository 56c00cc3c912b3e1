"""Phone number clean-up (E.164-ish, without a full numbering-plan database)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\D+")


def normalize_phone(raw: str, default_country: str = "44") -> str:
    """``07700 900123`` -> ``+447700900123``; ``+1 (415) 555-0100`` -> ``+14155550100``."""
    digits = _DIGITS.sub("", raw)
    if raw.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return "+" + default_country + digits.lstrip("0")
