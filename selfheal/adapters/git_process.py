"""Running git as a subprocess, and the path/branch rules every code host adapter shares.

``run_git`` takes an argument list (never a shell), a timeout and a scrubbed environment, and
turns failures into selfheal errors (network failures classified by ``ssh.classify_git_failure``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from selfheal.adapters.ssh import classify_git_failure
from selfheal.envscrub import scrub_env
from selfheal.errors import CodeHostUnavailable, ConfigurationError, EditRejected, StepTimeout

_KEEP_ENV = ("PATH", "HOME", "TMPDIR", "SYSTEMROOT")


def decode_text(data: bytes) -> str | None:
    """The UTF-8 text of a blob; None for binary (a NUL byte) or undecodable content."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for git (``selfheal.envscrub``, plus git's home and temp folder): no
    credentials of ours leak into hooks or ssh. ``extra`` is ours (author, ssh command): kept."""
    env = scrub_env(os.environ, keep=_KEEP_ENV)
    env.update({"LANG": "C", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false"})
    env.update(extra or {})
    return env


def run_git(args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
            input: bytes | None = None, timeout: float = 120.0, what: str | None = None,
            network: bool = False) -> bytes:
    """Run ``git args`` (an argument list, never a shell) and return its standard output."""
    argv = ["git", *args]
    try:
        proc = subprocess.run(argv, cwd=cwd, env=scrubbed_env(env), input=input,
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        cls = CodeHostUnavailable if network else StepTimeout
        raise cls(f"{what or args[0]}: git timed out after {timeout:g}s") from exc
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        if network:
            raise classify_git_failure(stderr, what or f"git {args[0]}")
        tail = stderr.strip().splitlines()[-1:] or ["no output"]
        raise ConfigurationError(f"{what or 'git ' + args[0]} failed: {tail[0]}")
    return proc.stdout


def foreign_commits_message(branch: str) -> str:
    """Why a fix branch is not overwritten (shared by every code host adapter)."""
    return (f"branch {branch!r} has commits selfheal did not make (someone pushed to it or merged "
            "into it); refusing to overwrite them. Delete the branch or re-drive after review.")


def safe_repo_path(path: str) -> str:
    """Validate a repository-relative POSIX path for writing; raise ``EditRejected`` otherwise."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or "\\" in path or any(part in ("..", "", ".git") for part in p.parts) \
            or str(p) != path:
        raise EditRejected(f"refusing to write outside the repository: {path!r}")
    return path
