"""Where the CLI keeps its state when neither ``--home`` nor ``SELFHEAL_HOME`` says.

The per-user state folder, ``$XDG_STATE_HOME/selfheal`` (default ``~/.local/state/selfheal``):
``repos/<name>-<hash>/`` for each repository (named by ``--repo``/``SELFHEAL_REPO``, else the
git repository the command runs in), ``default/`` otherwise. Nothing is written into the
user's repository. A ``./.selfheal`` left by an earlier version keeps working, with a one-line
notice on standard error.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import click

LEGACY_HOME = Path(".selfheal")
REPOS_DIR = "repos"
DEFAULT_DIR = "default"


def state_root(env: dict[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/selfheal``, else ``~/.local/state/selfheal``."""
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_STATE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "selfheal"


def git_toplevel(start: Path) -> Path | None:
    """The work tree containing ``start`` (a ``.git`` folder or file above it), else ``None``."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def repo_home(repo: Path, root: Path | None = None) -> Path:
    """The store folder of ``repo``: named after it, keyed by its resolved path."""
    resolved = repo.expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", resolved.name or "root")
    return (root or state_root()) / REPOS_DIR / f"{name}-{digest}"


def choose_home(repo: Path | None, cwd: Path | None = None) -> Path:
    """The state folder for a command without ``--home`` (see the module docstring)."""
    cwd = cwd or Path.cwd()
    legacy = cwd / LEGACY_HOME
    if legacy.is_dir():
        click.echo(f"selfheal: using {legacy} from an earlier version; new state goes to "
                   f"{state_root()} (move it there, or pass --home {legacy} to silence this)", err=True)
        return legacy
    # keyed by the work tree, so `--repo sub/folder`, `--repo .` and no --repo inside it agree
    target = (git_toplevel(repo) or repo) if repo is not None else git_toplevel(cwd)
    if target is not None:
        return repo_home(target)
    return state_root() / DEFAULT_DIR


def known_homes(root: Path | None = None) -> list[Path]:
    """Every store folder under the state root that holds an error store."""
    root = root or state_root()
    found = [root / DEFAULT_DIR] if (root / DEFAULT_DIR / "errors.db").is_file() else []
    repos = root / REPOS_DIR
    if repos.is_dir():
        found += sorted(p for p in repos.iterdir() if (p / "errors.db").is_file())
    return found


def check_home(home: Path, what: str) -> None:
    """A home that is a file (or under one) is a usage mistake, said in one line."""
    for folder in (home, *home.parents):
        if folder.exists():
            if not folder.is_dir():
                raise click.BadParameter(
                    f"{folder} is a file; give a folder for selfheal's state (it is created if missing)",
                    param_hint=what)
            return
