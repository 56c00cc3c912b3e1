"""Finding an error by what people type: a fingerprint or any unique prefix of one (as tables
print them). The one resolver every command uses, over ``ErrorStore.find``."""

from __future__ import annotations

from selfheal.errors import ErrorNotFound, MalformedInput
from selfheal.ports import ErrorStore


class AmbiguousPrefix(MalformedInput):
    """A fingerprint prefix matches more than one error."""


def resolve_fingerprint(store: ErrorStore, text: str, *, listing: str = "selfheal errors") -> str:
    """The full fingerprint ``text`` names; ``ErrorNotFound`` or ``AmbiguousPrefix`` otherwise.
    ``listing`` is the command the message tells people to run to see the ids (the CLI's by
    default; ``bin/redrive`` names its own, since its errors live in the deployed table)."""
    wanted = text.strip().lower()
    if not wanted:
        raise ErrorNotFound(f"no error id given; list them with: {listing}")
    matches = store.find(wanted)
    if wanted in matches:
        return wanted
    if not matches:
        raise ErrorNotFound(f"no error matches {wanted!r}; list them with: {listing}")
    if len(matches) > 1:
        shown = ", ".join(m[:12] for m in matches[:3]) + (", ..." if len(matches) > 3 else "")
        raise AmbiguousPrefix(f"{wanted!r} matches more than one error ({shown}); give more characters")
    return matches[0]
