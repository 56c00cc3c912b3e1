"""``FrameRef``: an in-app frame as records store it (its own module: ``fingerprint`` builds them
and ``records`` uses ``fingerprint.VERSION``, so neither imports the other both ways)."""

from __future__ import annotations

from pydantic import BaseModel


class FrameRef(BaseModel):
    """An in-app frame as stored on the record (application-relative path: repository-relative
    when the repository is known, see ``selfheal.domain.paths``)."""

    file: str
    function: str | None = None
    line: int | None = None
    source: str | None = None


__all__ = ["FrameRef"]
