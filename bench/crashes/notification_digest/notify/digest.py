"""Build the daily digest e-mail for one account from its notification records."""

from __future__ import annotations

from typing import Any


def recipients(account: dict[str, Any]) -> list[str]:
    """The owner plus everyone the owner copied in, without duplicates, in order."""
    out = [account["owner_email"]]
    for address in account.get("cc"):
        if address not in out:
            out.append(address)
    return out


def build_digest(account: dict[str, Any], notifications: list[dict[str, Any]]) -> dict[str, Any]:
    lines = [f"- {n['title']}" for n in notifications if not n.get("muted")]
    return {
        "to": recipients(account),
        "subject": f"{len(lines)} updates for {account['name']}",
        "body": "\n".join(lines) or "Nothing new today.",
    }
