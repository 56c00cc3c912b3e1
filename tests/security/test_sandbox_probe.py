"""The sandbox probe: a hostile test, sent through ``validate_candidate`` like a model's new test
module, tries every escape it can; it must find nothing, as root and as an unprivileged user.

Attacks (``probe_attacks.HOSTILE_TEST``): remount ``/`` read-write and unmount the hiding mounts
(directly and from a nested user namespace), read selfheal's ``secrets.toml`` and ``~/.ssh/id_rsa``,
read every visible ``/proc/*/environ`` for the parent's secret, write to the host's ``/tmp`` and
into selfheal's home, ptrace every visible process, look for another test run of the same
validation (which it could trace or stall), connect to a port on the host's 127.0.0.1, and fork
until something stops it. The secret files are world-readable on purpose: hiding, not file
modes, must keep them out.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from selfheal.domain.validation_report import ValidationReport
from selfheal.validation.sandbox import probe_isolation
from tests.security.probe_attacks import HOSTILE_TEST, RUNNER
from tests.support import validation_repo as vr

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
FORK_LIMIT = 300
NPROC = 64


@dataclass
class Area:
    root: Path
    home: Path
    selfheal_home: Path
    project: Path
    marker: str
    host_marker: Path


@pytest.fixture
def area() -> Iterator[Area]:
    # Outside /tmp on purpose: the sandbox's private /tmp would hide anything there anyway;
    # these paths are reachable, and only the hiding mounts may keep them out.
    root = Path(tempfile.mkdtemp(prefix=".probe-", dir=REPO_ROOT))
    try:
        root.chmod(0o755)
        marker = "PROBESECRET" + uuid.uuid4().hex
        home = root / "home"
        (home / ".ssh").mkdir(parents=True)
        (home / ".ssh" / "id_rsa").write_text(f"-----BEGIN KEY-----\n{marker}\n")
        selfheal_home = root / "selfheal"
        selfheal_home.mkdir()
        (selfheal_home / "secrets.toml").write_text(f'github_token = "{marker}"\n')
        project = vr.make_project(root / "proj")
        for path in (home, home / ".ssh", selfheal_home):
            path.chmod(0o755)
        yield Area(root, home, selfheal_home, project, marker,
                   Path(tempfile.gettempdir()) / f"selfheal-probe-{uuid.uuid4().hex}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _reply(config: dict[str, object]) -> str:
    source = HOSTILE_TEST.replace("__CONFIG__", repr(json.dumps(config)))
    # With a real code change: an edit of tests alone never reaches the test run (app_code gate).
    fix = vr.FIX_ONLY_REPLY.split("<<<<<<< SEARCH", 1)[1]
    return ("ROOT CAUSE: probing the sandbox\nSUMMARY: a new test\n<<<<<<< SEARCH" + fix
            + f"<<<<<<< SEARCH tests/test_probe.py\n=======\n{source}\n>>>>>>> REPLACE\n")


def _run_probe(area: Area, *, user: pwd.struct_passwd | None, fallback: bool = False,
               path: str | None = None) -> tuple[ValidationReport, str, bool]:
    """Validate the hostile test (as ``user`` when given); the report, the runner's output and
    whether anything connected to the host port."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        config = {"hidden": [str(area.selfheal_home), str(area.home / ".ssh")],
                  "secrets_file": str(area.selfheal_home / "secrets.toml"),
                  "ssh_key": str(area.home / ".ssh" / "id_rsa"), "selfheal_home": str(area.selfheal_home),
                  "marker": area.marker, "host_marker": str(area.host_marker),
                  "port": server.getsockname()[1], "fork_limit": FORK_LIMIT}
        runner = {"project": str(area.project), "selfheal_home": str(area.selfheal_home), "nproc": NPROC,
                  "reply": _reply(config), "bootstrap_path": [], "fallback": fallback}
        python = sys.executable
        kwargs: dict[str, object] = {}
        if user is not None:
            # A bare system interpreter; the packages come in through a bootstrap on sys.path.
            python = str(SYSTEM_PYTHON)
            runner["bootstrap_path"] = [str(REPO_ROOT), sysconfig.get_paths()["purelib"]]
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(area.root)], check=True)
        config_path = area.root / "runner.json"
        config_path.write_text(json.dumps(runner))
        config_path.chmod(0o644)
        env = {"PATH": path or os.environ.get("PATH", os.defpath), "HOME": str(area.home), "LANG": "C.UTF-8",
               "AWS_SECRET_ACCESS_KEY": area.marker, "SELFHEAL_SECRET_GITHUB_TOKEN": area.marker}
        proc = subprocess.run([python, "-s", "-c", RUNNER, str(config_path)], cwd=area.root, env=env,
                              capture_output=True, text=True, timeout=600, check=False, **kwargs)  # type: ignore[call-overload]
        try:
            server.accept()
            connected = True
        except BlockingIOError:
            connected = False
    line = next((x for x in proc.stdout.splitlines() if x.startswith("REPORT ")), None)
    assert line is not None, f"the runner failed: {proc.stderr[-3000:]}"
    return ValidationReport.model_validate_json(line[len("REPORT "):]), proc.stdout + proc.stderr, connected


def _findings(report: ValidationReport) -> list[list[str]]:
    """What each run of the hostile test found (one list per run)."""
    tails = "\n".join(c.output_tail for c in report.commands)
    return [json.loads(m) for m in re.findall(r"PROBE-FINDINGS (\[.*?\])\s*$", tails, re.MULTILINE)]


def _assert_nothing_found(area: Area, report: ValidationReport, output: str, connected: bool,
                          uid_expected: int | None) -> None:
    tails = "\n".join(c.output_tail for c in report.commands)
    findings = _findings(report)
    assert findings, f"the hostile test did not run:\n{tails[-3000:]}"
    for found in findings:
        assert found == [], found
    assert not connected, "the sandbox reached a port on the host's loopback"
    assert not area.host_marker.exists(), "the sandbox wrote into the host's /tmp"
    assert sorted(p.name for p in area.selfheal_home.iterdir()) == ["secrets.toml"]
    assert area.marker not in output, "a secret reached the verdict"
    uids = set(re.findall(r"^uid (\d+)$", tails, re.MULTILINE))
    assert uids, tails[-2000:]
    if uid_expected is not None:
        assert uids == {str(uid_expected)}
    assert "0" not in uids, "the tests ran as root"


def _require_bwrap() -> None:
    iso = probe_isolation()
    if not iso.bwrap:
        pytest.skip("bubblewrap does not work here, the sandbox says which protections are missing: "
                    + "; ".join(iso.notes))


def test_probe_as_root_finds_nothing(area: Area) -> None:
    if os.geteuid() != 0:
        pytest.skip("this run is not root (the unprivileged case is the other test)")
    _require_bwrap()
    report, output, connected = _run_probe(area, user=None)
    _assert_nothing_found(area, report, output, connected, uid_expected=65534)
    assert any("tests run as uid 65534" in n for n in report.sandbox_notes), report.sandbox_notes
    assert not any("not locked" in n or "not enforced" in n for n in report.sandbox_notes)


def test_probe_as_a_normal_user_finds_nothing(area: Area) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to start the validation as another user")
    if not SYSTEM_PYTHON.exists() or not shutil.which("bwrap"):
        pytest.skip("needs /usr/bin/python3 and bubblewrap")
    version = subprocess.run([str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    if version != str(sys.version_info[:2]):
        pytest.skip(f"/usr/bin/python3 is {version}; the installed packages are for {sys.version_info[:2]}")
    user = pwd.getpwnam("nobody")
    report, output, connected = _run_probe(area, user=user)
    _assert_nothing_found(area, report, output, connected, uid_expected=user.pw_uid)
    assert any("user namespace without capabilities" in n for n in report.sandbox_notes), report.sandbox_notes


def test_the_probe_catches_the_unshare_fallback(area: Area) -> None:
    """The control: under the old mechanism (the test process is root in its namespaces) the
    same probe finds the escapes #16 reported, and the verdict names what is missing."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare")
    from selfheal.validation.sandbox import _probe

    if not _probe(use_bwrap=False).filesystem:
        # Without a private mount namespace the hostile test would remount the host's own root.
        pytest.skip("unshare cannot create a private mount namespace here")
    try:
        report, _output, _connected = _run_probe(area, user=None, fallback=True)
    finally:
        area.host_marker.unlink(missing_ok=True)
    found = [f for batch in _findings(report) for f in batch]
    assert any("remounted / read-write" in f for f in found), found
    assert any("no process limit" in f for f in found), found
    assert "process limit not enforced: RLIMIT_NPROC does not apply to root" in report.sandbox_notes
    assert any(n.startswith("mounts not locked") for n in report.sandbox_notes), report.sandbox_notes


def test_without_namespaces_the_parent_environment_stays_out_of_reach(area: Area) -> None:
    """Lambda's case (#11): no bwrap, no unshare, tests run as our uid. The probe's mount and file
    attacks are expected to work there (the verdict says isolation is missing), but selfheal made
    itself non-dumpable: no /proc/<pid>/environ of it is readable and it cannot be traced. (Other
    test processes of the same validation, which hold nothing secret, can still be traced.)"""
    if os.geteuid() != 0 or not SYSTEM_PYTHON.exists() or not shutil.which("git"):
        pytest.skip("needs root (to run as nobody), /usr/bin/python3 and git")
    user = pwd.getpwnam("nobody")
    bin_dir = area.root / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git"))  # type: ignore[arg-type]
    try:
        report, output, _connected = _run_probe(area, user=user, path=str(bin_dir))
    finally:
        area.host_marker.unlink(missing_ok=True)
    found = [f for batch in _findings(report) for f in batch]
    assert _findings(report), output[-3000:]
    assert not [f for f in found if "environ" in f], found
    # Without a PID namespace the runs before and after the patch go one at a time: when they
    # overlapped, the two probes traced each other's children and both stalled until the timeout.
    after = next(c for c in report.commands if c.label == "tests after")
    assert not after.timed_out, output[-3000:]
    assert not [f for f in found if f.startswith("saw another test run")], found
    assert any("ran one after the other" in n for n in report.sandbox_notes), report.sandbox_notes
    # selfheal itself (the runner) must not be traceable.
    runner_pid = re.search(r"^RUNNER-PID (\d+)$", output, re.MULTILINE)
    assert runner_pid is not None, output[-3000:]
    assert not [f for f in found if f.startswith(f"ptrace-attached to pid {runner_pid[1]} ")], found
    assert any("made itself non-dumpable" in n for n in report.sandbox_notes), report.sandbox_notes
    assert any(n.startswith("network isolation unavailable") for n in report.sandbox_notes)
