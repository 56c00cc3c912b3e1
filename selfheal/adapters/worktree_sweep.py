"""Remove the temporary git worktrees of selfheal processes that died.

``LocalGitRepository.checkout`` adds a detached worktree under ``<tmp>/selfheal-tree-*/src-*``
and locks it with the reason ``selfheal pid <pid>`` (so a plain ``git worktree prune`` never takes
one in use). A process killed with SIGKILL leaves it registered in the user's repository. This
removes every selfheal worktree whose locking process is gone, then prunes what git still lists
for a missing directory.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from selfheal.adapters.git_process import run_git
from selfheal.adapters.lease_files import pid_alive
from selfheal.errors import ConfigurationError

LOCK_REASON_PREFIX = "selfheal pid "
_OURS = re.compile(r"/selfheal-tree-[^/]+/src-[^/]+$")


def lock_reason(pid: int) -> str:
    return f"{LOCK_REASON_PREFIX}{pid}"


def _worktrees(repo: Path) -> list[dict[str, str]]:
    out = run_git(["worktree", "list", "--porcelain"], cwd=repo, what="worktree list").decode()
    entries: list[dict[str, str]] = []
    for block in out.strip().split("\n\n"):
        entry: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            entry[key] = value
        if "worktree" in entry:
            entries.append(entry)
    return entries


def _owner(entry: dict[str, str]) -> int | None:
    reason = entry.get("locked", "")
    if reason.startswith(LOCK_REASON_PREFIX):
        try:
            return int(reason[len(LOCK_REASON_PREFIX):].split()[0])
        except (ValueError, IndexError):
            return None
    return None


def prune_stale_worktrees(repo: Path) -> list[str]:
    """Remove selfheal worktrees of dead processes in ``repo``; returns their paths."""
    try:
        entries = _worktrees(repo)
    except ConfigurationError:
        return []  # not a git repository (a plain folder source): nothing to prune
    removed: list[str] = []
    for entry in entries:
        path = entry["worktree"]
        if not _OURS.search(path):
            continue
        owner = _owner(entry)
        if owner is not None and pid_alive(owner):
            continue
        if owner is None and "locked" in entry:
            continue  # locked by someone else, for their own reason
        try:  # --force twice: the worktree is locked by the dead process
            run_git(["worktree", "remove", "--force", "--force", path], cwd=repo, what="worktree remove")
        except ConfigurationError:
            run_git(["worktree", "unlock", path], cwd=repo, what="worktree unlock")
        shutil.rmtree(Path(path).parent, ignore_errors=True)
        removed.append(path)
    run_git(["worktree", "prune"], cwd=repo, what="worktree prune")
    return removed
