"""The first program inside the sandbox's namespaces (run as ``python -I -S launcher.py ...``).

Standard library only: it runs before the project's code, outside any virtual environment.

``launcher.py [--rw PATH]... [--hide PATH]... [--readonly HOST_MNT_NS] [--user UID:GID[:DIR]]
-- COMMAND [ARG]...``

1. brings the loopback interface up (a new network namespace has it down);
2. with ``--readonly`` (refused unless this process's mount namespace differs from the caller's
   ``HOST_MNT_NS``, so the host's mounts can never be touched): makes every ``--rw`` path its
   own bind mount, hides every ``--hide`` path (an empty tmpfs over a directory, ``/dev/null``
   over a file), then remounts every other mount read-only (``/sys`` and ``/proc/sys`` too; ``/dev``
   stays, with a fresh ``/dev/shm``);
   any failure aborts with exit 126 (fail closed: never run tests half-contained);
3. with ``--nodump``: makes itself non-dumpable (no same-uid process can ptrace it);
   with ``--user`` (root only): drops every group, then to UID:GID, sets ``no_new_privs`` and
   checks that no capability is left (else exit 126), then enters DIR: from here nothing can
   change the mounts, ``RLIMIT_NPROC`` applies, and files only root may read stay unreadable;
4. runs COMMAND as a child and reaps orphans until it exits, like a tiny init: as PID 1 of a
   PID namespace the command would otherwise get odd signal defaults and leave zombies.
"""

from __future__ import annotations

import _socket  # the C module: "socket" imports enum/selectors, which cost startup time per run
import fcntl
import os
import struct
import sys

# os.path instead of pathlib throughout: this runs before every test command; imports are time.
# ruff: noqa: PTH110, PTH112, PTH113, PTH114, PTH115, PTH109, PTH123

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 32, 1024, 2048, 4096, 16384
MS_PRIVATE, MS_RELATIME = 1 << 18, 1 << 21
_KEEP_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
               "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
_PSEUDO = ("/proc", "/dev")  # stay writable: /proc/sys is made read-only and /dev/shm fresh below
SETUP_FAILED = 126


def _loopback_up() -> None:
    try:
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            # SIOCSIFFLAGS with IFF_UP | IFF_LOOPBACK | IFF_RUNNING
            fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH14s", b"lo", 0x1 | 0x8 | 0x40, b""))
        finally:
            s.close()
    except OSError:
        pass  # no network namespace (or no permission): the sandbox reports isolation separately


def _mounts() -> list[tuple[str, int]]:
    """(mount point, flags to keep) of every mount, from /proc/self/mountinfo."""
    out: list[tuple[str, int]] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            keep = 0
            for opt in fields[5].split(","):
                keep |= _KEEP_FLAGS.get(opt, 0)
            out.append((point, keep))
    return out


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def contain(rw: list[str], hide: list[str]) -> None:
    """Make the filesystem read-only except ``rw``; hide ``hide``. Raises OSError on failure."""
    import ctypes  # only here: it costs startup time, and plain runs do not need it

    libc = ctypes.CDLL(None, use_errno=True)

    def _mount(source: str | None, target: str, fstype: str | None, flags: int,
               data: str | None = None) -> None:
        enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
        if libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {target}: {os.strerror(err)}")

    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below may propagate out
    rw = [os.path.realpath(p) for p in rw]
    for path in rw:
        _mount(path, path, None, MS_BIND | MS_REC)
    for path in hide:
        if os.path.islink(path):
            continue
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=700")
        elif os.path.isfile(path):
            _mount("/dev/null", path, None, MS_BIND)
    for point, keep in sorted(_mounts(), key=lambda m: len(m[0])):
        if _under(point, rw) or _under(point, list(_PSEUDO)) or _under(point, hide):
            continue
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
    if os.path.isdir("/proc/sys"):  # kernel tunables are global, even from a namespace
        _mount("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC)
        _mount(None, "/proc/sys", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
               | MS_NOEXEC)
    if os.path.isdir("/dev/shm"):  # the host's shared memory stays out of reach
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")


PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SIGKILL = 9


def no_dump() -> None:
    """Make this process non-dumpable: processes of the same uid can no longer ptrace it."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")


def drop_user(uid: int, gid: int) -> None:
    """Become ``uid``:``gid`` with no supplementary group, no capability and ``no_new_privs``."""
    import ctypes

    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    # The uid change cleared bubblewrap's --die-with-parent: the sandbox must still die (and
    # with it, as PID 1, every process in it) when the monitor is killed on a timeout.
    if libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    with open("/proc/self/status", encoding="ascii") as fh:
        caps = {k: v.strip() for k, _, v in (line.partition(":") for line in fh) if k.startswith("Cap")}
    if any(int(caps.get(k, "0"), 16) for k in ("CapEff", "CapPrm", "CapAmb")):
        raise OSError(1, f"capabilities left after dropping to uid {uid}: {caps}")


class _Args:
    """The parsed command line."""

    def __init__(self) -> None:
        self.rw: list[str] = []
        self.hide: list[str] = []
        self.host_ns: str | None = None
        self.user: str | None = None  # "UID:GID" or "UID:GID:DIR" (the directory to run in)
        self.nodump = False
        self.command: list[str] = []


def _parse(argv: list[str]) -> _Args:
    args = _Args()
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--nodump":
            args.nodump = True
            i += 1
        elif argv[i] in ("--rw", "--hide", "--readonly", "--user") and i + 1 < len(argv):
            value = argv[i + 1]
            if argv[i] == "--readonly":
                args.host_ns = value
            elif argv[i] == "--user":
                args.user = value
            else:
                (args.rw if argv[i] == "--rw" else args.hide).append(value)
            i += 2
        else:
            raise SystemExit(f"launcher: unexpected argument {argv[i]!r}")
    args.command = argv[i + 1:]
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    rw, hide, host_ns, command, user = args.rw, args.hide, args.host_ns, args.command, args.user
    if not command:
        sys.stderr.write("launcher: no command\n")
        return SETUP_FAILED
    _loopback_up()
    if host_ns is not None:
        if os.readlink("/proc/self/ns/mnt") == host_ns:
            sys.stderr.write("selfheal sandbox: refusing to remount: not in a private mount namespace\n")
            return SETUP_FAILED
        try:
            contain(rw, hide)
            # The working directory still points into the mount it was opened on: re-enter it
            # by path so it lands on the writable bind mount.
            os.chdir(os.getcwd())
        except OSError as exc:
            sys.stderr.write(f"selfheal sandbox: filesystem containment failed: {exc}\n")
            return SETUP_FAILED
    if user is not None:
        try:
            uid, gid, *where = user.split(":", 2)
            drop_user(int(uid), int(gid))
            if where:  # entered only now: before, it belonged to the unprivileged uid
                os.chdir(where[0])
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"selfheal sandbox: cannot drop to an unprivileged user: {exc}\n")
            return SETUP_FAILED
    if args.nodump:  # after the uid change, which resets the flag
        try:
            no_dump()
        except OSError as exc:
            sys.stderr.write(f"selfheal sandbox: {exc}\n")
            return SETUP_FAILED
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            sys.stderr.write(f"cannot run {command[0]}: {exc}\n")
        os._exit(127)
    code = 1
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            break
        if done == pid:
            code = os.waitstatus_to_exitcode(status)
            break
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
