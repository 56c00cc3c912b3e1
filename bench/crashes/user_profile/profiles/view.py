"""The profile page model, built from the stored user document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_TZ = "UTC"


def local_time(user: dict[str, Any], now: datetime) -> str:
    """The user's local time in their own time zone, for the profile header."""
    tz_name = user["preferences"]["timezone"] or DEFAULT_TZ
    return now.astimezone(ZoneInfo(tz_name)).strftime("%H:%M")


def profile_view(user: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {
        "id": user["id"],
        "display_name": user.get("display_name") or user["email"].split("@")[0],
        "local_time": local_time(user, now),
        "member_since": user["created"][:4],
    }
