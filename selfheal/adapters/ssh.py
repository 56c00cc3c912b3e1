"""git over SSH with a private key from the secrets port and pinned host keys.

Never ``StrictHostKeyChecking=no``: the only host keys ssh accepts are the ones written in
configuration (``known_hosts`` lines), and ssh runs in batch mode so it can never prompt.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from selfheal.errors import (
    CodeHostAuthFailed,
    CodeHostForbidden,
    CodeHostUnavailable,
    ConcurrentUpdate,
    ConfigurationError,
    HostKeyRejected,
    SelfhealError,
)
from selfheal.ports import Secrets

_SCP_LIKE = re.compile(r"^(?:[\w.+-]+@)?[\w.-]+:(?!//)")


def is_ssh_url(url: str) -> bool:
    """True for ``ssh://...`` and scp-like ``user@host:path`` remotes."""
    return url.startswith(("ssh://", "git+ssh://", "ssh+git://")) or bool(_SCP_LIKE.match(url))


@dataclass
class SshTransport:
    """How git reaches an SSH remote: the key's secret name and the pinned host keys.

    ``known_hosts`` holds OpenSSH known_hosts lines, e.g.
    ``[git.example.com]:2222 ssh-ed25519 AAAA...``.
    """

    secrets: Secrets
    key_secret: str
    known_hosts: Sequence[str]
    ssh_binary: str = "ssh"
    connect_timeout: int = 15

    def __post_init__(self) -> None:
        lines = [ln.strip() for ln in self.known_hosts if ln.strip() and not ln.lstrip().startswith("#")]
        if not lines:
            raise ConfigurationError(
                "no pinned SSH host keys: set ssh_known_hosts (known_hosts lines) for the remote")
        for ln in lines:
            if len(ln.split()) < 3:
                raise ConfigurationError(f"malformed known_hosts line (want 'host type key'): {ln!r}")
        self.known_hosts = lines

    @contextmanager
    def environment(self) -> Iterator[dict[str, str]]:
        """Environment variables that make git use this key and these host keys.

        The key is written to a private (0600) file in a private temporary directory that is
        removed on exit.
        """
        key = self.secrets.get(self.key_secret)
        if not key:
            raise ConfigurationError(f"secret {self.key_secret!r} (SSH private key) is not set")
        tmp = Path(tempfile.mkdtemp(prefix="selfheal-ssh-"))
        try:
            tmp.chmod(0o700)
            key_path = tmp / "id_key"
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(key if key.endswith("\n") else key + "\n")
            kh_path = tmp / "known_hosts"
            kh_path.write_text("\n".join(self.known_hosts) + "\n", encoding="utf-8")
            yield {"GIT_SSH_COMMAND": self.command(key_path, kh_path), "GIT_SSH_VARIANT": "ssh"}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def command(self, key_path: Path, known_hosts_path: Path) -> str:
        """The ``GIT_SSH_COMMAND`` string (git runs it through a shell, so every part is quoted)."""
        argv = [
            self.ssh_binary, "-i", str(key_path),
            "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={known_hosts_path}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={int(self.connect_timeout)}",
            "-F", "/dev/null",
        ]
        return " ".join(shlex.quote(a) for a in argv)


def classify_git_failure(stderr: str, what: str) -> SelfhealError:
    """Turn a failed git network command's stderr into an error class named by condition."""
    text = stderr.strip()
    tail = text.splitlines()[-1] if text else "no output"
    if "Host key verification failed" in text or "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        return HostKeyRejected(f"{what}: the remote's SSH host key is not the pinned one ({tail})")
    if "stale info" in text or "fetch first" in text:
        return ConcurrentUpdate(f"{what}: the remote branch changed meanwhile ({tail})")
    if "[remote rejected]" in text or "hook declined" in text or "protected branch" in text.lower():
        return CodeHostForbidden(f"{what}: the remote refused the update ({tail})")
    if "Permission denied" in text or "Authentication failed" in text:
        return CodeHostAuthFailed(f"{what}: the remote refused the credentials ({tail})")
    if any(s in text for s in ("Connection refused", "Connection timed out", "Could not resolve",
                                "Connection reset", "Connection closed", "timed out")):
        return CodeHostUnavailable(f"{what}: cannot reach the remote ({tail})")
    if "early EOF" in text or "unexpected disconnect" in text:
        return CodeHostUnavailable(f"{what}: the connection dropped ({tail})")
    return ConfigurationError(f"{what} failed: {tail}")
