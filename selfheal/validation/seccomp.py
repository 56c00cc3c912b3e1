"""A seccomp filter for the sandbox: the second wall behind bubblewrap's locked mounts.

The test process may not call ``mount``/``umount2``/``pivot_root`` and the new mount API,
``unshare``/``setns`` or ``clone`` with a namespace flag (``clone3`` answers ``ENOSYS``, so the C
library falls back to ``clone``, whose flags a filter can read), ``ptrace``, the key-ring calls,
``bpf`` or ``userfaultfd``: each fails with ``EPERM``. Calls of a foreign ABI (i386 or x32 on
x86-64) fail too, so the filter cannot be sidestepped through them. ``program()`` returns the
classic BPF program as bubblewrap's ``--seccomp FD`` reads it, or None on an architecture this
module has no table for (the sandbox then says so).
"""

from __future__ import annotations

import errno
import os
import platform
import struct

_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_EPERM = 0x00050000 | errno.EPERM
_ENOSYS = 0x00050000 | errno.ENOSYS
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0: its low 32 bits, little-endian)
_X32_BIT = 0x40000000
_NAMESPACE_FLAGS = (0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
                    | 0x02000000)  # NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWCGROUP

# (audit arch, {name: number}) per machine.
_TABLES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, {
        "mount": 165, "umount2": 166, "pivot_root": 155, "unshare": 272, "setns": 308, "ptrace": 101,
        "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "userfaultfd": 323,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "clone": 56, "clone3": 435}),
    "aarch64": (0xC00000B7, {
        "mount": 40, "umount2": 39, "pivot_root": 41, "unshare": 97, "setns": 268, "ptrace": 117,
        "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280, "userfaultfd": 282,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "clone": 220, "clone3": 435}),
}
DENIED = ("mount", "umount2", "pivot_root", "unshare", "setns", "ptrace", "keyctl", "add_key",
          "request_key", "bpf", "userfaultfd", "open_tree", "move_mount", "fsopen", "fsconfig",
          "fsmount", "fspick", "mount_setattr")


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter for ``machine`` (default: this one), or None when unknown."""
    table = _TABLES.get(machine or platform.machine())
    if table is None:
        return None
    arch, numbers = table
    denied = [numbers[name] for name in DENIED]
    # Layout: [0] load arch, [1] foreign arch -> deny, [2] load nr, [3] x32 -> deny,
    # [4..] one JEQ per denied call -> deny, clone3 -> ENOSYS, clone -> check flags, allow,
    # then the flag check, allow, deny, ENOSYS.
    body: list[tuple[int, int, str | None, str | None]] = [
        (_LD_ABS, _ARCH, None, None), (_JEQ, arch, None, "deny"), (_LD_ABS, _NR, None, None),
        (_JGE, _X32_BIT, "deny", None),
        *((_JEQ, nr, "deny", None) for nr in denied),
        (_JEQ, numbers["clone3"], "enosys", None), (_JEQ, numbers["clone"], "clone", None),
        (_RET, _ALLOW, None, None),
    ]
    labels = {"clone": len(body)}
    body += [(_LD_ABS, _ARG0, None, None), (_JSET, _NAMESPACE_FLAGS, "deny", None),
             (_RET, _ALLOW, None, None)]
    labels["deny"] = len(body)
    body.append((_RET, _EPERM, None, None))
    labels["enosys"] = len(body)
    body.append((_RET, _ENOSYS, None, None))
    out = b""
    for i, (code, k, jt, jf) in enumerate(body):
        out += _insn(code, k, labels[jt] - i - 1 if jt else 0, labels[jf] - i - 1 if jf else 0)
    return out


def filter_fd() -> int | None:
    """A pipe's read end holding ``program()`` (for ``bwrap --seccomp FD``; the caller closes
    it), or None when this machine has no filter."""
    prog = program()
    if prog is None:
        return None
    read, write = os.pipe()
    try:
        os.write(write, prog)  # a few hundred bytes: far below the pipe's buffer
    finally:
        os.close(write)
    return read
