"""Import contacts from a CSV export: one row per person, headers as exported by the old CRM."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from contacts.phones import normalize_phone


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    phone: str | None


def parse_row(row: dict[str, str]) -> Contact:
    name = " ".join(part for part in (row.get("First Name", ""), row.get("Last Name", "")) if part).strip()
    email = row.get("Email", "").strip().lower()
    phone = row.get("Phone", "").strip() or None
    if phone and row.get("Country", "GB") != "GB":
        # International rows carry their own dialling code.
        phone = normalise_phone(phone, default_country=row["Dial Code"])
    elif phone:
        phone = normalize_phone(phone)
    return Contact(name=name, email=email, phone=phone)


def import_csv(text: str) -> list[Contact]:
    """Every row with an e-mail address; rows without one are skipped."""
    return [c for c in (parse_row(r) for r in csv.DictReader(io.StringIO(text))) if c.email]
