"""Record admin actions in the audit log (a dedicated logger shipped to the SIEM)."""

from __future__ import annotations

import logging

audit = logging.getLogger("audit")


def record_role_change(actor: str, user: str, old: str, new: str) -> None:
    audit.info("%s changed role of %s from %s to %s", actor, user, old, new)


def record_bulk_delete(actor: str, ids: list[str]) -> None:
    audit.warning("%s deleted %d records: %s", actor, ids)
