"""The seccomp filter, the second wall: namespace, mount, ptrace and key-ring calls fail with
EPERM inside the sandbox, while threads, fork and subprocesses (clone without namespace flags,
clone3 answered ENOSYS) keep working."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from selfheal.validation.sandbox import Sandbox, probe_isolation
from selfheal.validation.seccomp import program

SCRIPT = r"""
import ctypes, os, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    rc = getattr(libc, name)(*args)
    print(name, "ok" if rc == 0 else os.strerror(ctypes.get_errno()))
call("unshare", 0x10000000)                      # CLONE_NEWUSER
call("unshare", 0x00020000)                      # CLONE_NEWNS
call("mount", None, b"/", None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND
call("umount2", b"/tmp", 2)
call("ptrace", 16, os.getppid(), 0, 0)
call("syscall", {"x86_64": 250, "aarch64": 219}[os.uname().machine], 0, 0)  # keyctl
t = threading.Thread(target=print, args=("thread ok",)); t.start(); t.join()
child = subprocess.run([sys.executable, "-c", "print('child ok')"], capture_output=True, text=True)
print(child.stdout.strip())
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("fork ok")
"""


def test_the_filter_denies_and_the_rest_works(tmp_path: Path) -> None:
    iso = probe_isolation()
    if not iso.bwrap or program() is None:
        pytest.skip(f"no bubblewrap or no seccomp table here: {iso.notes}")
    assert any(n.startswith("syscalls: seccomp filter denies") for n in Sandbox().notes)
    run = Sandbox().run([sys.executable, "-c", SCRIPT], tmp_path, timeout=60)
    assert run.exit_code == 0, run.output_tail
    for name in ("unshare", "mount", "umount2", "ptrace", "syscall"):
        lines = [x for x in run.output_tail.splitlines() if x.startswith(name + " ")]
        assert lines and all(x.endswith("Operation not permitted") for x in lines), run.output_tail
    for ok in ("thread ok", "child ok", "fork ok"):
        assert ok in run.output_tail


def test_programs() -> None:
    assert program("sparc") is None
    for machine in ("x86_64", "aarch64"):
        prog = program(machine)
        assert prog is not None and len(prog) % 8 == 0 and len(prog) // 8 < 256
