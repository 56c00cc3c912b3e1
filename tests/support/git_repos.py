"""Real git repositories for source-control tests (created with the git binary in tmp dirs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

APP_PY = '''\
def average(values):
    return sum(values) / len(values)


def handler(event, context):
    return {"avg": average(event["values"])}
'''

TEST_PY = '''\
from app import average


def test_average():
    assert average([1, 2, 3]) == 2
'''

GIT_ENV = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` (tests only) and return stripped stdout."""
    # GIT_OPTIONAL_LOCKS=0: `git status` must not refresh the index we compare byte for byte.
    env = {**os.environ, **GIT_ENV, "LANG": "C", "GIT_OPTIONAL_LOCKS": "0"}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def make_work_repo(path: Path, branch: str = "main", files: dict[str, str] | None = None) -> Path:
    """A non-bare repository with one commit on ``branch``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    content = files if files is not None else {"app.py": APP_PY, "tests/test_app.py": TEST_PY,
                                                "run.sh": "#!/bin/sh\necho hi\n"}
    for rel, text in content.items():
        p = path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    if (path / "run.sh").exists():
        (path / "run.sh").chmod(0o755)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def make_bare_repo(path: Path, branch: str = "main", files: dict[str, str] | None = None) -> Path:
    """A bare repository (like a server's) with one commit on ``branch``."""
    work = make_work_repo(path.with_name(path.name + "-seed"), branch, files)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(path)], check=True, timeout=60,
                   capture_output=True)
    return path


def snapshot_worktree(path: Path) -> dict[str, object]:
    """Everything a user would notice changing: HEAD, the branch, status, file contents."""
    files = {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
             if p.is_file() and ".git" not in p.relative_to(path).parts}
    index = (path / ".git" / "index").read_bytes()
    return {"index": index, "head": git(path, "rev-parse", "HEAD"),
            "branch": git(path, "symbolic-ref", "HEAD"),
            "status": git(path, "status", "--porcelain"), "files": files}
