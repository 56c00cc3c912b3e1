"""A private OpenSSH server on 127.0.0.1 for git-over-SSH tests.

Debian's ``/usr/sbin/sshd`` runs with its own config, host key, authorized_keys and pid file on a
free port; the client key is forced to ``git-shell`` (or left unrestricted with ``mode="plain"``).
Tests skip with a clear reason when sshd is not installed (``.ci/run`` installs openssh-server).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")


@dataclass
class SshServer:
    """A running sshd and the client material that reaches it."""

    port: int
    user: str
    known_hosts_line: str
    client_key: str
    client_key_path: Path
    workdir: Path

    def url(self, repo: Path) -> str:
        """``ssh://`` URL of a repository path on this server."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo.resolve()}"


def keygen(path: Path, comment: str = "selfheal-test") -> str:
    """Create an ed25519 key pair at ``path``; return the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True, timeout=30)
    return Path(f"{path}.pub").read_text().strip()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, deadline_s: float = 15.0) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-2.0"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


@contextmanager
def running_sshd(workdir: Path, mode: str = "git-shell") -> Iterator[SshServer]:
    """Start sshd in ``workdir``; stop it (by its own pid) on exit."""
    if not SSHD.exists() or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server/client not installed (apt-get install openssh-server openssh-client)")
    workdir.mkdir(parents=True, exist_ok=True)
    host_key = workdir / "ssh_host_ed25519_key"
    host_pub = keygen(host_key, "host")
    client_key = workdir / "client_key"
    client_pub = keygen(client_key)
    restrict = 'command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",restrict ' if mode == "git-shell" \
        else "restrict "
    (workdir / "authorized_keys").write_text(restrict + client_pub + "\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
    user = getpass.getuser()
    last_log = ""
    for _ in range(3):  # the free port can be taken between probing and binding: retry
        port = _free_port()
        config = workdir / "sshd_config"
        config.write_text("\n".join([
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
            f"PidFile {workdir / 'sshd.pid'}", f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
            "UsePAM no", "StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin prohibit-password", f"AllowUsers {user}",
            "LogLevel VERBOSE", ""]))
        log = workdir / "sshd.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=fh,
                                    stderr=subprocess.STDOUT)
        if _wait_ready(proc, port, log):
            break
        proc.kill()
        proc.wait(timeout=10)
        last_log = log.read_text(errors="replace")
    else:
        pytest.fail(f"sshd did not start: {last_log[-2000:]}")
    key_type, key_b64 = host_pub.split()[:2]
    try:
        yield SshServer(port=port, user=user, known_hosts_line=f"[127.0.0.1]:{port} {key_type} {key_b64}",
                        client_key=client_key.read_text(), client_key_path=client_key, workdir=workdir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """One sshd per test module (import this fixture into the test module to use it)."""
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
