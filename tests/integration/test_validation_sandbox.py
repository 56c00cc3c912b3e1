"""The sandbox with real subprocesses: scrubbed environment, timeout kill, limits, no network."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from selfheal.validation.sandbox import Sandbox, SandboxLimits, probe_isolation, scrub_env

FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEYFORTESTS"


def test_scrub_env_drops_credentials_and_keeps_basics() -> None:
    env = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
           "AWS_PROFILE": "prod", "GITHUB_TOKEN": "ghp_x", "MY_API_KEY": "k", "DB_PASSWORD": "p",
           "SSH_AUTH_SOCK": "/tmp/agent", "ANTHROPIC_API_KEY": "a", "PYTHONPATH": "/elsewhere",
           "HOME": "/root", "CLIENT_SECRET_VALUE": "s", "PYTHONHASHSEED": "0"}
    out = scrub_env(env, {"EXTRA_TOKEN": "t", "FOO": "bar"})
    assert out == {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "PYTHONHASHSEED": "0", "FOO": "bar"}


def test_test_process_sees_no_aws_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fake_token_value")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/ssh-agent.sock")
    script = ("import os\n"
              "leaks = [k for k, v in os.environ.items()\n"
              "         if 'FAKEKEY' in v or k.startswith(('AWS_', 'GITHUB_')) or k == 'SSH_AUTH_SOCK']\n"
              "print('LEAKS', leaks)\n"
              "print('HOME', os.environ['HOME'])\n"
              "raise SystemExit(1 if leaks else 0)\n")
    run = Sandbox().run([sys.executable, "-c", script], tmp_path, timeout=60)
    assert run.exit_code == 0, run.output_tail
    assert "LEAKS []" in run.output_tail
    assert FAKE_SECRET not in run.output_tail
    assert "selfheal-sandbox-" in run.output_tail  # HOME is a fresh temporary directory


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    script = ("import subprocess, sys, time\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(601)'])\n"
              "print('started', flush=True)\n"
              "time.sleep(601)\n")
    # 10 s, not less: the script must have started its child and printed before the timeout,
    # and sandbox set-up plus two interpreter start-ups can take seconds on a loaded machine.
    run = Sandbox().run([sys.executable, "-c", script], tmp_path, timeout=10)
    assert run.timed_out and run.exit_code is None
    assert "started" in run.output_tail and "killed after 10s timeout" in run.output_tail
    assert _sleepers(b"time.sleep(601)") == []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return "Z"


def test_memory_limit_stops_a_runaway_allocation(tmp_path: Path) -> None:
    sandbox = Sandbox(limits=SandboxLimits(memory_mb=256))
    run = sandbox.run([sys.executable, "-c", "x = bytearray(1024 * 1024 * 1024); print('allocated')"],
                      tmp_path, timeout=60)
    assert run.exit_code != 0
    assert "MemoryError" in run.output_tail and "allocated" not in run.output_tail


def test_file_size_limit(tmp_path: Path) -> None:
    sandbox = Sandbox(limits=SandboxLimits(file_size_mb=1))
    script = ("with open('big.bin', 'wb') as f:\n"
              "    f.write(b'x' * (4 * 1024 * 1024))\n")
    run = sandbox.run([sys.executable, "-c", script], tmp_path, timeout=60)
    assert run.exit_code != 0
    assert (tmp_path / "big.bin").stat().st_size <= 1024 * 1024


def test_network_is_cut_off_or_reported(tmp_path: Path) -> None:
    sandbox = Sandbox()
    isolation = probe_isolation()
    script = ("import socket\n"
              "names = [n for _, n in socket.if_nameindex()]\n"
              "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
              "c = socket.create_connection(srv.getsockname(), timeout=5); c.close()\n"
              "print('IFACES', names)\n")
    run = sandbox.run([sys.executable, "-c", script], tmp_path, timeout=60)
    assert run.exit_code == 0, run.output_tail  # loopback works either way
    if isolation.network:
        assert "IFACES ['lo']" in run.output_tail
        # Any non-loopback destination is unreachable (fails at once: there is no route).
        connect = "import socket; socket.create_connection(('192.0.2.1', 80), 5)"
        out = sandbox.run([sys.executable, "-c", connect], tmp_path, timeout=60)
        assert out.exit_code != 0 and "Network is unreachable" in out.output_tail
        assert sandbox.notes[0].startswith("network: isolated")
    else:
        assert sandbox.notes[0].startswith("network isolation unavailable: ")


def test_disabled_isolation_is_reported(tmp_path: Path) -> None:
    sandbox = Sandbox(isolate_network=False)
    assert "network isolation unavailable: disabled by configuration" in sandbox.notes
    assert not sandbox.network_isolated


def test_tests_cannot_read_our_environment_through_proc(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    sandbox = Sandbox()
    if not sandbox.isolation.pid:
        pytest.skip(f"no PID namespace here: {sandbox.notes}")
    # Walk every visible process and read its environment: none may hold our secret.
    script = ("import os\n"
              "seen = []\n"
              "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
              "    try:\n"
              "        seen.append(open(f'/proc/{pid}/environ', 'rb').read())\n"
              "    except OSError:\n"
              "        pass\n"
              "print('PROCS', len(seen), 'LEAK', any(b'FAKEKEY' in e for e in seen))\n")
    run = sandbox.run([sys.executable, "-c", script], tmp_path, timeout=60)
    assert run.exit_code == 0, run.output_tail
    assert "LEAK False" in run.output_tail
    assert FAKE_SECRET not in run.output_tail


def test_leftover_daemons_die_with_the_run(tmp_path: Path) -> None:
    script = ("import subprocess, sys\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],\n"
              "                 start_new_session=True)\n"
              "print('spawned')\n")
    run = Sandbox().run([sys.executable, "-c", script], tmp_path, timeout=60)
    assert run.exit_code == 0 and "spawned" in run.output_tail
    # The daemon escaped the process group (new session), so only the namespace (or the group
    # kill, when namespaces are unavailable) can stop it: no sleeping python may survive.
    assert _sleepers(b"time.sleep(600)") == []


def _sleepers(token: bytes) -> list[int]:
    """Live (non-zombie) processes whose command line holds ``token``, after a grace (polled;
    generous because a loaded machine can take seconds to reap a killed namespace)."""
    deadline = time.monotonic() + 30
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if token in (proc / "cmdline").read_bytes() and _state(int(proc.name)) != "Z":
                    found.append(int(proc.name))
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_filesystem_is_read_only_outside_the_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "realhome"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(f"[default]\naws_secret_access_key = {FAKE_SECRET}\n")
    (home / ".netrc").write_text(f"machine example.com password {FAKE_SECRET}\n")
    monkeypatch.setenv("HOME", str(home))
    sandbox = Sandbox()
    if not sandbox.isolation.filesystem:
        pytest.skip(f"no filesystem containment here: {sandbox.notes}")
    tree = tmp_path / "tree"
    tree.mkdir()
    outside = tmp_path / "outside.txt"
    script = ("import os, pathlib, sys\n"
              "pathlib.Path('inside.txt').write_text('ok')\n"
              "pathlib.Path(os.environ['TMPDIR'], 'scratch').write_text('ok')\n"
              "try:\n"
              f"    pathlib.Path({str(outside)!r}).write_text('escaped')\n"
              "    print('WROTE OUTSIDE')\n"
              "except OSError as exc:\n"
              "    print('OUTSIDE', exc.strerror)\n"
              f"home = pathlib.Path({str(home)!r})\n"
              "creds = home / '.aws' / 'credentials'\n"
              "aws = home / '.aws'\n"
              "print('AWS DIR', sorted(p.name for p in aws.iterdir()) if aws.is_dir() else [])\n"
              "netrc = home / '.netrc'\n"
              "print('NETRC', repr(netrc.read_text() if netrc.exists() else ''))\n")
    run = sandbox.run([sys.executable, "-c", script], tree, timeout=60)
    assert run.exit_code == 0, run.output_tail
    assert (tree / "inside.txt").read_text() == "ok"
    # Read-only (unshare) or not even there (bubblewrap's private /tmp, as an unprivileged uid).
    assert "WROTE OUTSIDE" not in run.output_tail and "OUTSIDE " in run.output_tail and not outside.exists()
    assert "AWS DIR []" in run.output_tail and "NETRC ''" in run.output_tail
    assert FAKE_SECRET not in run.output_tail
    # Our own view is untouched.
    assert FAKE_SECRET in (home / ".aws" / "credentials").read_text()


def test_launcher_contains_a_non_root_user(tmp_path: Path) -> None:
    """The flags the sandbox uses as non-root (``unshare --map-root-user ...``) and the launcher's
    read-only containment work for an unprivileged user (run as nobody via setpriv)."""
    import os
    import shutil
    import subprocess
    import tempfile

    from selfheal.validation.sandbox import LAUNCHER

    setpriv, unshare = shutil.which("setpriv"), shutil.which("unshare")
    system_python = Path("/usr/bin/python3")
    if os.geteuid() != 0 or not setpriv or not unshare or not system_python.exists():
        pytest.skip("needs root (to switch to nobody), setpriv, unshare and /usr/bin/python3")
    shared = Path(tempfile.mkdtemp(prefix="selfheal-nonroot-", dir="/tmp"))
    try:
        shared.chmod(0o777)
        launcher = shared / "launcher.py"
        launcher.write_bytes(LAUNCHER.read_bytes())
        launcher.chmod(0o644)
        work = shared / "work"
        work.mkdir()
        work.chmod(0o777)
        host_ns = str(Path("/proc/self/ns/mnt").readlink())
        script = ("import os\n"
                  f"open({str(work / 'ok')!r}, 'w').write('ok')\n"
                  "try:\n"
                  f"    open({str(shared / 'escaped')!r}, 'w')\n"
                  "    print('ESCAPED')\n"
                  "except OSError as exc:\n"
                  "    print('BLOCKED', exc.strerror)\n")
        proc = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", unshare,
                               "--map-root-user", "--net", "--pid", "--fork", "--mount-proc", "--",
                               str(system_python), "-I", "-S", str(launcher), "--rw", str(work),
                               "--readonly", host_ns, "--", str(system_python), "-c", script],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 and "unshare failed" in proc.stderr:
            pytest.skip(f"user namespaces are not available to unprivileged users: {proc.stderr.strip()}")
        assert proc.returncode == 0, proc.stderr
        assert "BLOCKED Read-only file system" in proc.stdout
        assert (work / "ok").read_text() == "ok" and not (shared / "escaped").exists()
    finally:
        shutil.rmtree(shared, ignore_errors=True)
