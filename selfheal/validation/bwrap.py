"""Build the bubblewrap (``bwrap``) command line the sandbox runs a test command under.

bubblewrap creates the namespaces and mounts, then runs the command with no capabilities and
``no_new_privs``, so the test process cannot undo them (no remount, no umount of a hiding mount):

- a new mount namespace: ``/`` read-only, a fresh ``/dev``, a ``/proc`` of the new PID namespace
  (no other process and no ``environ`` of ours is visible), private empty ``/tmp`` and
  ``/var/tmp`` (the host's are never written), empty directories over credential folders and
  selfheal's home, ``/dev/null`` over credential files, then the writable paths bound back;
- new network (loopback only), PID, IPC and UTS namespaces; the sandbox dies with its parent;
- the caller adds ``--seccomp FD`` (``selfheal.validation.seccomp``) and ``--info-fd FD``;
- as a normal user: a user namespace in which nested user namespaces are disabled, so the
  command cannot make itself root somewhere and reach the mounts from there;
- the launcher is PID 1 and makes itself non-dumpable: no process the test can see but its own
  children can be traced;
- as root: the command is handed to ``launcher.py --user`` with only ``CAP_SETUID``/``CAP_SETGID``
  left, which drops to an unprivileged uid (so ``RLIMIT_NPROC`` applies and no root-only file is
  readable) before it runs anything. Directories the unprivileged uid could not traverse on the
  way to a path the run needs (``/root`` holding the interpreter) are replaced by an empty
  directory with only that path bound back, and the writable paths are lent to that uid for the
  run (``lend``).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# uid/gid the tests run as when selfheal runs as root ("nobody" on Debian and most distributions).
SANDBOX_UID = 65534
SANDBOX_GID = 65534
PRIVATE_TMP = ("/tmp", "/var/tmp")  # noqa: S108 - replaced by empty private directories, not used


@dataclass
class MountPlan:
    """What the command may see and write, as absolute resolved paths."""

    writable: list[Path] = field(default_factory=list)
    readable: list[Path] = field(default_factory=list)  # needed (the interpreter, the layer)
    hidden: list[Path] = field(default_factory=list)  # replaced by an empty dir / file


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _traversable(path: Path, uid: int, gid: int) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def closed_ancestors(paths: Sequence[Path], uid: int, gid: int, skip: Sequence[Path]) -> list[Path]:
    """The highest directories on the way to ``paths`` that ``uid`` could not enter (outside
    ``skip``, which is replaced anyway)."""
    out: list[Path] = []
    for path in paths:
        for parent in reversed(path.parents):
            if parent == Path("/") or _under(parent, skip) or _under(parent, out):
                continue
            if not _traversable(parent, uid, gid):
                out.append(parent)
                break
    return out


def build(bwrap: str, argv: Sequence[str], cwd: Path, plan: MountPlan, *, drop_to: tuple[int, int] | None,
          launcher: Sequence[str]) -> list[str]:
    """The full command: ``bwrap`` options, then the launcher (root) or ``argv`` itself."""
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid",
            "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    masked = [Path(p) for p in PRIVATE_TMP if Path(p).is_dir() and not Path(p).is_symlink()]
    for path in masked:
        args += ["--perms", "1777", "--tmpfs", str(path)]
    if drop_to is not None:
        uid, gid = drop_to
        closed = closed_ancestors([*plan.readable, *plan.writable], uid, gid, masked)
        for path in closed:
            args += ["--perms", "0755", "--tmpfs", str(path)]
        masked += closed
    for path in plan.hidden:
        if path.is_symlink() or _under(path, masked):
            continue
        if path.is_dir():
            args += ["--perms", "0700", "--tmpfs", str(path)]
        elif path.exists():
            args += ["--ro-bind", "/dev/null", str(path)]
    made: set[Path] = set()

    def parents(path: Path) -> list[str]:
        # bwrap makes missing parents mode 0700: the unprivileged uid could not pass them.
        out: list[str] = []
        for parent in reversed(path.parents):
            if parent not in made and _under(parent, masked) and parent not in masked:
                made.add(parent)
                out += ["--perms", "0755", "--dir", str(parent)]
        return out

    for path in plan.readable:
        if path.exists() and _under(path, masked) and not _under(path, plan.hidden):
            args += [*parents(path), "--ro-bind", str(path), str(path)]
    for path in plan.writable:
        args += [*parents(path), "--bind", str(path), str(path)]
    # The launcher is PID 1 (no bwrap init in the namespace) and not dumpable: the test process
    # can attach to no process but its own children.
    if drop_to is None:
        args += ["--chdir", str(cwd), "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
                 "--as-pid-1", "--", *launcher, "--nodump", "--", *argv]
    else:  # root without capabilities may not enter a directory lent to the uid: the launcher does
        args += ["--chdir", "/", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                 "--as-pid-1", "--", *launcher, "--nodump", "--user", f"{drop_to[0]}:{drop_to[1]}:{cwd}",
                 "--", *argv]
    return args


def _walk(root: Path) -> Iterator[Path]:
    yield root
    if root.is_dir() and not root.is_symlink():
        for base, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                yield Path(base) / name


@contextlib.contextmanager
def lend(paths: Sequence[Path], uid: int, gid: int) -> Iterator[None]:
    """Give ``paths`` (recursively) to ``uid``:``gid`` for the block, then give every file back to
    its owner (files the run created go to the owner of the path they were created under)."""
    owners: dict[Path, tuple[int, int]] = {}
    roots: list[tuple[Path, int, int]] = []
    for path in paths:
        st = path.lstat()
        roots.append((path, st.st_uid, st.st_gid))
        for item in _walk(path):
            with contextlib.suppress(OSError):
                before = item.lstat()
                owners.setdefault(item, (before.st_uid, before.st_gid))
                os.lchown(item, uid, gid)
    try:
        yield
    finally:
        for path, owner, group in roots:
            for item in _walk(path):
                with contextlib.suppress(OSError):
                    os.lchown(item, *owners.get(item, (owner, group)))
