"""Customs declarations (CN22) for parcels leaving the UK."""

from __future__ import annotations

from typing import Any

DOMESTIC = {"GB"}


def needs_customs(country: str) -> bool:
    return country.upper() not in DOMESTIC


def country_name(code: str) -> str:
    # pycountry is only needed for the customs form; imported lazily to keep cold starts fast.
    import pycountry

    return pycountry.countries.get(alpha_2=code.upper()).name


def label(parcel: dict[str, Any]) -> dict[str, Any]:
    out = {"to": parcel["address"], "weight_kg": round(parcel["weight_kg"], 2), "customs": None}
    if needs_customs(parcel["country"]):
        out["customs"] = {"country": country_name(parcel["country"]), "contents": parcel["contents"],
                          "value_gbp": parcel["value_gbp"]}
    return out
