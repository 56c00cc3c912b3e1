"""Run an untrusted command (a project's tests) in a directory, as contained as this OS allows.

Every run gets: an argument list (never a shell), a wall-clock timeout that kills the whole
process group, a scrubbed environment (an allow-list of harmless variables, minus anything that
looks like a credential, with a fresh temporary ``HOME``/``TMPDIR``), resource limits set with
``setrlimit`` in the child (address space, processes, CPU seconds, file size, no core dumps), and
the import paths the runtime added outside ``PYTHONPATH`` (a Lambda layer), so the child finds
pytest where its parent found it.

Containment, probed once per process, best first: bubblewrap (``selfheal.validation.bwrap``:
the test process holds no capability over its mounts, runs as an unprivileged uid, sees no other
process, no network, no credential folder and not selfheal's home; a seccomp filter,
``selfheal.validation.seccomp``, is the second wall); else ``unshare`` and ``launcher.py``
(namespaces and a read-only filesystem, but the test process is root in them and could undo the
mounts); else nothing. Without a PID namespace selfheal makes itself non-dumpable, so tests
running as its uid cannot read its ``/proc/<pid>/environ``. What could not be enforced is
reported first in ``Sandbox.notes`` so the verdict and the pull request say so.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from selfheal.domain.validation_report import CommandRun
from selfheal.envscrub import scrub_env
from selfheal.validation import bwrap as bw
from selfheal.validation import seccomp
from selfheal.validation.runtime_paths import runtime_import_paths, runtime_paths

OUTPUT_TAIL_CHARS = 8000

LAUNCHER = Path(__file__).with_name("launcher.py")
# Credential stores in the real home directory: hidden (empty) inside the sandbox, where the
# filesystem is otherwise readable.
HIDDEN_HOME_ENTRIES = (".aws", ".ssh", ".gnupg", ".config", ".docker", ".kube", ".azure", ".netrc",
                       ".git-credentials", ".pypirc", ".npmrc", ".selfheal", ".bash_history", ".zsh_history",
                       ".python_history", ".pgpass", ".my.cnf", ".boto", ".s3cfg", ".vault-token",
                       ".password-store", ".terraform.d", ".local/share/keyrings", ".cargo/credentials",
                       ".cargo/credentials.toml", ".gem/credentials", ".m2/settings.xml", ".claude")


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run resource limits (``None``: leave the inherited limit)."""

    memory_mb: int | None = 4096
    max_processes: int | None = 1024
    file_size_mb: int | None = 1024
    cpu_seconds: int | None = None  # default: the timeout plus a margin


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the sandbox do: namespaces via ``unshare`` and a read-only filesystem."""

    unshare: tuple[str, ...] = ()  # the unshare command and flags ("--" excluded); empty: none
    network: bool = False
    pid: bool = False
    filesystem: bool = False
    host_mnt_ns: str = ""
    notes: tuple[str, ...] = ()
    bwrap: str = ""  # the bubblewrap binary when it works here (preferred over ``unshare``)
    drop_to: tuple[int, int] | None = None  # uid, gid the tests run as (bwrap as root)


_probe_lock = threading.Lock()
_probe_result: Isolation | None = None


def probe_isolation(*, refresh: bool = False) -> Isolation:
    """Find out once per process what isolation works here (``unshare``; ``-r`` as non-root)."""
    global _probe_result
    with _probe_lock:
        if _probe_result is None or refresh:
            _probe_result = _probe()
        return _probe_result


def _try(argv: list[str], pass_fds: Sequence[int] = ()) -> str | None:
    """None when ``argv`` succeeds, else why not (one line)."""
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=20, env=scrub_env(os.environ),
                              pass_fds=pass_fds)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode == 0:
        return None
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


_BWRAP_NOTES = ("network: isolated (network namespace, loopback only)",
                "processes: own PID namespace and /proc; other processes and their environment invisible",
                "filesystem: read-only except the work tree and a temporary home; private /tmp; "
                "credential folders and selfheal's home hidden",
                "mounts: locked (bubblewrap; the test process has no capabilities and no_new_privs)")


def _probe_bwrap() -> tuple[Isolation | None, str]:
    """Isolation through bubblewrap when a trial run works here, else None and why not."""
    binary = shutil.which("bwrap")
    if binary is None:
        return None, "bubblewrap (bwrap) is not installed"
    drop_to = (bw.SANDBOX_UID, bw.SANDBOX_GID) if os.geteuid() == 0 else None
    launcher = [sys.executable, "-I", "-S", str(LAUNCHER)]
    with tempfile.TemporaryDirectory(prefix="selfheal-probe-") as rw:
        plan = bw.MountPlan(writable=[Path(rw).resolve()], readable=runtime_paths(LAUNCHER))
        lent = contextlib.nullcontext() if drop_to is None else bw.lend(plan.writable, *drop_to)
        filt = seccomp.filter_fd()
        with lent:
            argv = bw.build(binary, ["true"], Path(rw).resolve(), plan, drop_to=drop_to, launcher=launcher)
            if filt is not None:
                argv[1:1] = ["--seccomp", str(filt)]
            try:
                why = _try(argv, () if filt is None else (filt,))
            finally:
                if filt is not None:
                    os.close(filt)
    if why is not None:
        return None, f"bubblewrap does not work here: {why}"
    who = (f"user: tests run as uid {drop_to[0]} (RLIMIT_NPROC applies)" if drop_to else
           f"user: tests run as uid {os.geteuid()} in a user namespace without capabilities; "
           "nested user namespaces disabled")
    wall = ("syscalls: seccomp filter denies mount, unshare, setns, ptrace, keyctl, bpf" if filt is not None
            else f"syscalls not filtered: no seccomp table for {platform.machine()}")
    return Isolation(bwrap=binary, drop_to=drop_to, network=True, pid=True, filesystem=True,
                     notes=(*_BWRAP_NOTES, who, wall)), ""


def _probe(*, use_bwrap: bool = True) -> Isolation:
    if not sys.platform.startswith("linux"):
        return Isolation(notes=(f"network isolation unavailable: {sys.platform} has no namespaces",))
    boxed, bwrap_why = _probe_bwrap() if use_bwrap else (None, "bubblewrap not used (disabled)")
    if boxed is not None:
        return boxed
    fallback = _probe_unshare()
    lost = (f"mounts not locked: {bwrap_why}; without it the test process is root in its namespaces "
            "and could remount or unmount (fallback: unshare)")
    return replace(fallback, notes=(lost, *fallback.notes))


def _probe_unshare() -> Isolation:
    unshare = shutil.which("unshare")
    if unshare is None:
        return Isolation(notes=("network isolation unavailable: the unshare binary is missing",))
    user = () if os.geteuid() == 0 else ("--map-root-user",)
    host_ns = str(Path("/proc/self/ns/mnt").readlink())
    launcher = [sys.executable, "-I", "-S", str(LAUNCHER)]
    failures: list[str] = []
    # Preferred: network + PID namespaces (own /proc: a test cannot read our environment, and
    # every process dies with the run) + a mount namespace with a read-only filesystem.
    full = (unshare, *user, "--net", "--pid", "--fork", "--mount-proc")
    why = _try([*full, "--", *launcher, "--", "true"])
    if why is None:
        with tempfile.TemporaryDirectory(prefix="selfheal-probe-") as rw:
            fs_why = _try([*full, "--", *launcher, "--rw", rw, "--readonly", host_ns, "--", "true"])
        notes = ["network: isolated (network namespace, loopback only)",
                 "processes: own PID namespace and /proc"]
        if fs_why is None:
            notes.append("filesystem: read-only except the work tree and a temporary home; "
                         "credential directories in the real home hidden")
        else:
            notes.append(f"filesystem: writable (read-only containment unavailable: {fs_why})")
        return Isolation(full, True, True, fs_why is None, host_ns, tuple(notes))
    failures.append(f"unshare {' '.join(full[1:])}: {why}")
    net_only = (unshare, *user, "--net")
    why = _try([*net_only, "--", *launcher, "--", "true"])
    if why is None:
        return Isolation(net_only, True, False, False, host_ns,
                         ("network: isolated (network namespace, loopback only)",
                          f"processes: no PID namespace ({failures[0]})", "filesystem: writable"))
    failures.append(f"unshare {' '.join(net_only[1:])}: {why}")
    return Isolation(notes=("network isolation unavailable: " + "; ".join(failures), "filesystem: writable"))


def _limit_setter(limits: SandboxLimits, timeout: float) -> Callable[[], None]:
    cpu = limits.cpu_seconds if limits.cpu_seconds is not None else int(timeout) + 30
    wanted: list[tuple[int, int]] = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, cpu)]
    if limits.memory_mb is not None:
        wanted.append((resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024))
    if limits.max_processes is not None:
        wanted.append((resource.RLIMIT_NPROC, limits.max_processes))
    if limits.file_size_mb is not None:
        wanted.append((resource.RLIMIT_FSIZE, limits.file_size_mb * 1024 * 1024))
    # Compute the final values in the parent: the child between fork and exec should only do
    # async-signal-safe-ish work (plain setrlimit calls).
    final: list[tuple[int, tuple[int, int]]] = []
    for res, value in wanted:
        _soft, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        final.append((res, (value, value if hard == resource.RLIM_INFINITY else hard)))

    def apply() -> None:
        for res, pair in final:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(res, pair)

    return apply


@dataclass
class Sandbox:
    """Runs commands contained; ``notes`` says what containment this machine provides (what is
    missing first)."""

    limits: SandboxLimits = field(default_factory=SandboxLimits)
    isolate_network: bool = True
    base_env: Mapping[str, str] | None = None  # default: os.environ, scrubbed
    notes: list[str] = field(default_factory=list)
    hide: Sequence[Path] = ()  # besides the real home's credential folders: selfheal's home, ...

    def __post_init__(self) -> None:
        self._iso = probe_isolation() if self.isolate_network else Isolation(
            notes=("network isolation unavailable: disabled by configuration", "filesystem: writable"))
        missing = [n for n in self._iso.notes if _is_missing(n)]
        self.notes.extend([*missing, *(n for n in self._iso.notes if not _is_missing(n))])
        if os.geteuid() == 0 and self._iso.drop_to is None and self.limits.max_processes is not None:
            self.notes.insert(0, "process limit not enforced: RLIMIT_NPROC does not apply to root")
        if not self._iso.pid and _no_dump_self():
            # No PID namespace (Lambda): the tests run as our uid and could read our environment
            # (the function's AWS credentials) from /proc/<ppid>/environ. Not any more.
            self.notes.append("processes: no PID namespace; selfheal made itself non-dumpable, so the "
                              "tests cannot read its environment or trace it")
        if self.limits.memory_mb is not None:
            lim = self.limits
            self.notes.append(f"limits: address space {lim.memory_mb} MB, processes {lim.max_processes}, "
                              f"file size {lim.file_size_mb} MB, CPU time = timeout + 30 s")

    @property
    def network_isolated(self) -> bool:
        return self._iso.network

    @property
    def isolation(self) -> Isolation:
        return self._iso

    def hidden_paths(self) -> list[Path]:
        """Credential folders of the real home and ``hide``, resolved (existing or not)."""
        home = Path.home().resolve()
        return list(dict.fromkeys([*(home / n for n in HIDDEN_HOME_ENTRIES),
                                   *(Path(p).resolve() for p in self.hide)]))

    def _wrap(self, argv: list[str], cwd: Path, writable: Sequence[Path]) -> list[str]:
        """``argv`` inside the namespaces and the launcher, when this machine has them."""
        launcher = [sys.executable, "-I", "-S", str(LAUNCHER)]
        rw = list(dict.fromkeys(Path(p).resolve() for p in writable))
        if self._iso.bwrap:
            plan = bw.MountPlan(writable=rw, readable=runtime_paths(LAUNCHER), hidden=self.hidden_paths())
            return bw.build(self._iso.bwrap, argv, cwd.resolve(), plan, drop_to=self._iso.drop_to,
                            launcher=launcher)
        if not self._iso.unshare:
            return argv
        if self._iso.filesystem:
            launcher += [a for p in rw for a in ("--rw", str(p))]
            for hidden in self.hidden_paths():
                # Never hide a directory that holds a writable path (the tree would vanish).
                if (hidden.exists() or hidden.is_symlink()) and not any(p.is_relative_to(hidden) for p in rw):
                    launcher += ["--hide", str(hidden)]
            launcher += ["--readonly", self._iso.host_mnt_ns]
        return [*self._iso.unshare, "--", *launcher, "--", *argv]

    def run(self, argv: Sequence[str], cwd: Path, *, timeout: float,
            env: Mapping[str, str] | None = None, writable: Sequence[Path] = ()) -> CommandRun:
        """Run ``argv`` in ``cwd``; never raises for the command's own failure or timeout.

        With filesystem containment, only ``cwd``, a fresh temporary home and ``writable``
        can be written.
        """
        argv = [str(a) for a in argv]
        if not argv:
            raise ValueError("empty command")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="selfheal-sandbox-") as scratch:
            home = Path(scratch) / "home"
            tmp = Path(scratch) / "tmp"
            home.mkdir()
            tmp.mkdir()
            run_env = scrub_env(os.environ if self.base_env is None else self.base_env, env)
            run_env.update({"HOME": str(home), "TMPDIR": str(tmp), "PYTHONNOUSERSITE": "1"})
            layers = runtime_import_paths()
            if layers:  # the runtime's bootstrap put them on sys.path; a fresh child needs them too
                run_env["PYTHONPATH"] = os.pathsep.join(layers)
            out_path = Path(scratch) / "output"
            lent = [home, tmp, cwd, *writable]
            full = self._wrap(argv, cwd, [cwd, home, tmp, *writable])
            drop = self._iso.drop_to if self._iso.bwrap else None
            # Output goes to a file, not a pipe: a grandchild that keeps a pipe open could
            # otherwise block us after the timeout kill.
            info_r, fds = -1, []
            if self._iso.bwrap:  # bubblewrap reports the sandbox's PID 1 there: killing it ends the sandbox
                info_r, info_w = os.pipe()
                fds = [info_w]
                prefix = ["--info-fd", str(info_w)]
                if (filt := seccomp.filter_fd()) is not None:  # the second wall
                    fds.append(filt)
                    prefix += ["--seccomp", str(filt)]
                full = [full[0], *prefix, *full[1:]]
            try:
                with out_path.open("wb") as out, (bw.lend(lent, *drop) if drop else contextlib.nullcontext()):
                    try:
                        proc = subprocess.Popen(full, cwd=cwd, env=run_env, stdin=subprocess.DEVNULL,
                                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                                pass_fds=fds,
                                                preexec_fn=_limit_setter(self.limits, timeout))  # noqa: PLW1509
                    except OSError as exc:
                        return CommandRun(argv=argv, cwd=str(cwd), exit_code=None,
                                          duration_ms=_ms(started), output_tail=f"cannot start: {exc}")
                    finally:
                        for fd in fds:
                            os.close(fd)
                    timed_out = False
                    try:
                        code: int | None = proc.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        timed_out = True
                        code = None
                    # Leftovers (daemons a test forgot, or everything on a timeout) die with the run.
                    _kill_group(proc, _sandbox_pid(info_r))
            finally:
                if info_r >= 0:
                    os.close(info_r)
            tail = _tail(out_path)
        if timed_out:
            tail = f"{tail}\n[selfheal: killed after {timeout:g}s timeout]".lstrip("\n")
        return CommandRun(argv=argv, cwd=str(cwd), exit_code=code, timed_out=timed_out,
                          duration_ms=_ms(started), output_tail=tail)


def _no_dump_self() -> bool:
    """Make this process non-dumpable (its /proc files then belong to root and ptrace access is
    refused to other processes of its uid); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return int(ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)) == 0  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        return False


def _is_missing(note: str) -> bool:
    return any(w in note for w in ("unavailable", "not enforced", "not locked", "writable", "no PID"))


def _sandbox_pid(fd: int) -> int | None:
    """The sandbox's PID 1 as bubblewrap wrote it to its info pipe (read without blocking)."""
    if fd < 0:
        return None
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 65536)
        pid = json.loads(data.decode("utf-8", "replace") or "{}").get("child-pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) and pid > 1 else None


def _kill_group(proc: subprocess.Popen[bytes], ns_pid: int | None = None) -> None:
    if ns_pid is not None and proc.poll() is None:
        # PID 1 of the sandbox's PID namespace: when it dies, the kernel kills every process in
        # it, including those in their own session (bubblewrap's --new-session) and those that
        # dropped to another uid (which clears --die-with-parent).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(ns_pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _tail(path: Path, limit: int = OUTPUT_TAIL_CHARS) -> str:
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size > limit * 4:
            fh.seek(size - limit * 4)
        data = fh.read()
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else "..." + text[-limit:]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
