"""Local pull-request records: ``<home>/prs/<number>.json`` plus a readable ``<number>.md``.

The local code host's "pull request" is a branch plus one of these records; ``selfheal prs``
lists them. Numbers are allocated with an exclusive create, so concurrent workers never share
one; every write replaces the file atomically.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from selfheal.domain.records import utcnow
from selfheal.errors import ConfigurationError
from selfheal.ports import PullRequest


class PrRecord(BaseModel):
    """One local pull request."""

    number: int
    repository: str = ""
    branch: str
    base: str
    title: str = ""
    body: str = ""
    labels: list[str] = Field(default_factory=list)
    state: Literal["open", "closed", "merged"] = "open"
    draft: bool = True
    head: str | None = None
    url: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def to_pull_request(self, created: bool = False) -> PullRequest:
        return PullRequest(url=self.url, number=self.number, branch=self.branch, base=self.base,
                           title=self.title, state=self.state, draft=self.draft, created=created,
                           labels=list(self.labels))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def repository_key(location: str | Path) -> str:
    """One spelling per repository, so records match however ``--repo`` was written: a local
    path (or ``file://`` URL) becomes its resolved absolute path; any other URL loses a trailing
    ``/`` and ``.git``."""
    text = str(location).strip()
    if text.startswith("file://"):
        text = text[len("file://"):]
    elif "://" in text or (":" in text and not text.startswith(("/", ".", "~"))
                           and "@" in text.split(":", 1)[0]):
        text = text.rstrip("/")
        return text[:-len(".git")] if text.endswith(".git") else text
    try:
        return str(Path(text).expanduser().resolve())
    except (OSError, RuntimeError):
        return text


class PrRecordStore:
    """The PR records of one home directory, optionally restricted to one repository."""

    def __init__(self, home: Path, repository: str | None = None) -> None:
        self.dir = Path(home) / "prs"
        self.repository = repository
        self._key = repository_key(repository) if repository is not None else None

    def all(self) -> list[PrRecord]:
        """Every readable record (of this repository, when set), oldest first."""
        out: list[PrRecord] = []
        if not self.dir.is_dir():
            return out
        for path in self.dir.glob("*.json"):
            try:
                rec = PrRecord.model_validate_json(path.read_text(encoding="utf-8"))
            except (OSError, ValidationError, ValueError):
                continue  # a record being allocated (empty) or damaged: skip, never crash a listing
            if self._key is None or repository_key(rec.repository) == self._key:
                out.append(rec)
        return sorted(out, key=lambda r: r.number)

    def get(self, number: int) -> PrRecord:
        path = self.dir / f"{number}.json"
        try:
            return PrRecord.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigurationError(f"no local pull request #{number} in {self.dir}") from exc
        except (OSError, ValidationError, ValueError) as exc:
            raise ConfigurationError(f"pull request record {path} is unreadable: {exc}") from exc

    def newest_for_branch(self, branch: str, state: str | None = None) -> PrRecord | None:
        recs = [r for r in self.all() if r.branch == branch and (state is None or r.state == state)]
        return recs[-1] if recs else None

    def save(self, rec: PrRecord) -> None:
        rec.updated_at = utcnow()
        _atomic_write(self.dir / f"{rec.number}.json", rec.model_dump_json(indent=2) + "\n")
        _atomic_write(self.dir / f"{rec.number}.md", render_markdown(rec))

    def _allocate(self) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.stem) for p in self.dir.glob("*.json") if p.stem.isdigit()]
        n = max(numbers, default=0) + 1
        while True:
            try:
                fd = os.open(self.dir / f"{n}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                n += 1
                continue
            os.close(fd)
            return n

    def open(self, *, branch: str, base: str, title: str, body: str, labels: list[str], draft: bool,
             head: str | None) -> PullRequest:
        """Update the open record for ``branch``, or create one. Closed records stay closed."""
        rec = self.newest_for_branch(branch, state="open")
        created = rec is None
        if rec is None:
            number = self._allocate()
            rec = PrRecord(number=number, repository=self._key or "", branch=branch, base=base,
                           draft=draft, url=(self.dir / f"{number}.md").resolve().as_uri())
        rec.title, rec.body, rec.base, rec.head = title, body, base, head
        rec.labels = list(dict.fromkeys([*rec.labels, *labels]))
        self.save(rec)
        return rec.to_pull_request(created=created)

    def set_state(self, number: int, state: Literal["open", "closed", "merged"]) -> PrRecord:
        """Close (or mark merged) a record; used by ``selfheal prs close`` and tests."""
        rec = self.get(number)
        rec.state = state
        self.save(rec)
        return rec


def render_markdown(rec: PrRecord) -> str:
    """The human-readable copy of a record: a metadata header, then the PR body."""
    flags = " (draft)" if rec.draft else ""
    labels = ", ".join(rec.labels) or "-"
    return (f"# #{rec.number} {rec.title}\n\n"
            f"- state: {rec.state}{flags}\n- branch: `{rec.branch}` -> `{rec.base}`\n"
            f"- head: `{rec.head or '-'}`\n- labels: {labels}\n- repository: {rec.repository}\n"
            f"- updated: {rec.updated_at.isoformat()}\n\n---\n\n{rec.body}\n")


def dump_records(records: list[PrRecord]) -> str:
    """JSON text of records (for ``--json``)."""
    return json.dumps([r.model_dump(mode="json") for r in records], indent=2)
