"""The local sweep the CLI runs at the start of ``fix``, ``watch``, ``redrive`` and ``errors``:
attempts left FIXING by a process that died become FAILED (reason ``lost``, resumable), and the
worktrees such processes left in the repository are removed. One call: ``sweep_local``."""

from __future__ import annotations

from selfheal.settings import Settings


def sweep_local(settings: Settings) -> str | None:
    """Sweep the local store (see module docstring); a one-line summary when it did something."""
    from selfheal.adapters.artifacts_fs import FsArtifactStore
    from selfheal.adapters.lease_files import owner_alive, remove_dead_leases
    from selfheal.adapters.worktree_sweep import prune_stale_worktrees
    from selfheal.compose.store import LOCAL_DB_NAME, build_local_store
    from selfheal.compose.workflow import ARTIFACTS_DIR
    from selfheal.services.workflow.sweeper import SweepPolicy, sweep

    if not (settings.home / LOCAL_DB_NAME).is_file():
        return None  # nothing recorded yet: no store to sweep (and none is created)
    report = sweep(build_local_store(settings),
                   SweepPolicy(owner_alive=owner_alive(settings.home)),
                   artifacts=FsArtifactStore(settings.home / ARTIFACTS_DIR))
    remove_dead_leases(settings.home)  # their attempts are FAILED (lost) now
    if settings.repo is not None and (settings.repo / ".git").exists():
        report.pruned_worktrees = prune_stale_worktrees(settings.repo)
    return report.summary()
