"""git over SSH to a local sshd with a pinned host key: clone, read, commit, push, publish; an
unknown host key and a wrong client key are refused with errors named by condition."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
from selfheal.adapters.local_prs import PrRecordStore
from selfheal.adapters.secrets_env import EnvSecrets
from selfheal.adapters.ssh import SshTransport
from selfheal.errors import CodeHostAuthFailed, HostKeyRejected
from selfheal.services.publish import publish_fix
from tests.support.git_repos import APP_PY, git, make_bare_repo
from tests.support.sshd import SshServer, keygen, sshd_server

__all__ = ["sshd_server"]  # the module-scoped fixture

pytestmark = pytest.mark.sshd
FP = "c0ffee1234567890abcdef"


def _transport(server: SshServer, key: str | None = None, known: str | None = None) -> SshTransport:
    secrets = EnvSecrets(env={"SELFHEAL_SECRET_SSH_PRIVATE_KEY": key or server.client_key})
    return SshTransport(secrets, "ssh_private_key", [known or server.known_hosts_line])


def test_clone_read_commit_push_over_ssh(sshd_server: SshServer, tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "remote.git")
    repo = LocalGitRepository(sshd_server.url(bare), cache_dir=tmp_path / "cache",
                              ssh=_transport(sshd_server))
    assert repo.default_branch() == "main"
    head = repo.resolve()
    assert head == git(bare, "rev-parse", "main")
    assert repo.read_file("app.py", head) == APP_PY
    with repo.checkout(head) as tree:
        assert (tree / "app.py").read_text() == APP_PY
    host = LocalGitHost(repo, tmp_path / "home")
    commit = host.commit_branch("selfheal/ssh1", head, {"app.py": APP_PY + "# fixed\n"}, "fix")
    assert git(bare, "rev-parse", "refs/heads/selfheal/ssh1") == commit


def test_publish_three_times_over_ssh(sshd_server: SshServer, tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "remote.git")
    repo = LocalGitRepository(sshd_server.url(bare), cache_dir=tmp_path / "cache",
                              ssh=_transport(sshd_server))
    host = LocalGitHost(repo, tmp_path / "home")
    prs = [publish_fix(host, fingerprint=FP, base_branch="main", base_revision=repo.resolve(),
                       files={"app.py": APP_PY + "# fixed\n"}, title="fix", body=f"run {i}")
           for i in range(3)]
    assert [p.created for p in prs] == [True, False, False]
    assert git(bare, "branch", "--list", "selfheal/*") == "selfheal/c0ffee123456"
    assert len(PrRecordStore(tmp_path / "home").all()) == 1


def test_unknown_host_key_is_refused(sshd_server: SshServer, tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "remote.git")
    other = keygen(tmp_path / "impostor_host_key", "impostor")
    key_type, key_b64 = other.split()[:2]
    wrong = f"[127.0.0.1]:{sshd_server.port} {key_type} {key_b64}"
    repo = LocalGitRepository(sshd_server.url(bare), cache_dir=tmp_path / "cache",
                              ssh=_transport(sshd_server, known=wrong))
    with pytest.raises(HostKeyRejected, match="not the pinned one"):
        repo.resolve()
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(p.suffix == ".git" for p in cache.iterdir())


def test_key_pinned_for_another_host_is_refused(sshd_server: SshServer, tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "remote.git")
    _, key_type, key_b64 = sshd_server.known_hosts_line.split()
    elsewhere = f"[127.0.0.1]:{sshd_server.port + 1} {key_type} {key_b64}"   # right key, wrong host
    repo = LocalGitRepository(sshd_server.url(bare), cache_dir=tmp_path / "cache",
                              ssh=_transport(sshd_server, known=elsewhere))
    with pytest.raises(HostKeyRejected):
        repo.resolve()


def test_wrong_client_key_is_auth_failure(sshd_server: SshServer, tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "remote.git")
    keygen(tmp_path / "stranger")
    repo = LocalGitRepository(sshd_server.url(bare), cache_dir=tmp_path / "cache",
                              ssh=_transport(sshd_server, key=(tmp_path / "stranger").read_text()))
    with pytest.raises(CodeHostAuthFailed):
        repo.resolve()


def test_key_file_is_private_and_removed(sshd_server: SshServer) -> None:
    transport = _transport(sshd_server)
    with transport.environment() as env:
        cmd = env["GIT_SSH_COMMAND"]
        assert "StrictHostKeyChecking=yes" in cmd and "BatchMode=yes" in cmd and "IdentitiesOnly=yes" in cmd
        assert "StrictHostKeyChecking=no" not in cmd
        key_path = Path(cmd.split(" -i ")[1].split()[0].strip("'"))
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        assert key_path.read_text().strip() == sshd_server.client_key.strip()
        assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert not key_path.exists() and not key_path.parent.exists()
