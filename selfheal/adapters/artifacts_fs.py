"""``ArtifactStore`` on a local folder (the local mode's stand-in for the S3 bucket)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from selfheal import known_secrets
from selfheal.errors import ArtifactNotFound, MalformedInput


class FsArtifactStore:
    """Blobs under ``root``; a reference is the absolute path of the file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        rel = PurePosixPath(key)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise MalformedInput(f"artifact key must be a relative path without '..': {key!r}")
        return self.root.joinpath(*rel.parts)

    def put_bytes(self, key: str, data: bytes) -> str:
        data = known_secrets.scrub_bytes(data)  # nothing stored carries a secret this process holds
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half an artifact.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(path)

    def reference(self, key: str, data: bytes) -> str:
        """The reference ``put_bytes(key, data)`` returns (the path), nothing stored."""
        return str(self._path(key))

    def get_bytes(self, ref: str) -> bytes:
        path = Path(ref).resolve()
        if not path.is_relative_to(self.root):
            raise ArtifactNotFound(f"artifact {ref} is outside {self.root}")
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFound(f"no artifact at {ref}") from None
