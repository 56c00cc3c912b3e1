"""What every command shares: exit codes, the ``--home``/``--repo``/``--model``/``--json``
options, the settings of one invocation, and the one-line message for each user mistake.

Exit codes (documented in docs/usage.md; ``selfheal --help`` lists them):

- 0 done (a fix opened its pull request, a listing printed, ...)
- 1 error: something failed, or a fix ended FAILED
- 2 usage: a wrong option, argument, path or setting; the message says what to change
- 3 abstained: a fix ended without a verified change (nothing was published)
- 130 interrupted (Ctrl-C) before the command could stop cleanly
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from selfheal.settings import Settings

_F = TypeVar("_F", bound=Callable[..., Any])


class ExitCode(IntEnum):
    """The process exit status of ``selfheal`` (the one definition)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    ABSTAINED = 3
    INTERRUPTED = 130


def outcome_exit_code(status: object) -> ExitCode:
    """The exit code of a fix that ended in ``status`` (PR_OPEN, ABSTAINED, FAILED, ...)."""
    text = str(getattr(status, "value", status))
    if text in ("PR_OPEN", "RESOLVED"):
        return ExitCode.OK
    if text == "ABSTAINED":
        return ExitCode.ABSTAINED
    return ExitCode.ERROR


# --- shared options -----------------------------------------------------------------------------

HOME_HELP = ("state folder (default: SELFHEAL_HOME, else $XDG_STATE_HOME/selfheal, one store per "
             "repository)")
REPO_HELP = "the service's git repository (its [tool.selfheal] settings apply; picks its store)"
JSON_HELP = "print JSON for machines instead of tables"


class UserPath(click.Path):
    """``click.Path`` that expands a leading ``~``: the shell leaves it when it is quoted or, in
    zsh, after ``--repo=``, and a literal ``~`` folder in the current directory helps no one."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.startswith("~"):
            value = str(Path(value).expanduser())
        return super().convert(value, param, ctx)


home_option = click.option("--home", type=UserPath(path_type=Path), default=None, help=HOME_HELP)
repo_option = click.option("--repo", type=UserPath(path_type=Path), default=None, help=REPO_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help=JSON_HELP)


def model_option(default: str | None = None) -> Callable[[_F], _F]:
    """``--model SPEC`` (the grammar comes from ``selfheal.compose.models.MODEL_SPECS``)."""
    from selfheal.compose.models import MODEL_SPECS

    return click.option("--model", default=default, show_default=default is not None, help=MODEL_SPECS,
                        callback=_check_model)


def _check_model(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A ``--model`` of no known form is a usage mistake, said before any work starts."""
    from selfheal.compose.models import check_model_spec
    from selfheal.errors import ConfigurationError

    if value is not None:
        try:
            check_model_spec(value)
        except ConfigurationError as exc:
            raise click.BadParameter(str(exc)) from exc
    return value


# --- settings -----------------------------------------------------------------------------------

def cli_settings(home: Path | None = None, repo: Path | None = None, model: str | None = None,
                 *, need_git: bool = False, **explicit: Any) -> Settings:
    """The settings of one command: flags win, then ``SELFHEAL_*``, then ``[tool.selfheal]``.
    Without ``--repo``/``SELFHEAL_REPO``/``SELFHEAL_REPO_URL`` the repository is the git work
    tree the command runs in, if any. Without ``--home``/``SELFHEAL_HOME`` the store is the
    per-user state folder (``selfheal.cli.state.choose_home``). ``need_git``: the command writes
    fix branches, so ``--repo`` must be inside a git work tree."""
    from selfheal.cli.state import check_home, choose_home, git_toplevel
    from selfheal.names import ENV_HOME
    from selfheal.settings import ENV_PREFIX, load_settings

    env_repo, env_repo_url = os.environ.get(ENV_PREFIX + "REPO"), os.environ.get(ENV_PREFIX + "REPO_URL")
    if repo is not None:
        _check_folder(repo, "--repo", "give the folder of your git repository")
        if need_git and git_toplevel(repo) is None:
            raise click.BadParameter(f"{repo} is not in a git repository; give your service's git checkout",
                                     param_hint="--repo")
    elif not (env_repo or env_repo_url):
        repo = git_toplevel(Path.cwd())  # run inside a repository: that one
    given: dict[str, Any] = {"repo": repo, "model": model, **explicit}
    if home is None and not os.environ.get(ENV_HOME):
        given["home"] = choose_home(repo or (Path(env_repo).expanduser() if env_repo else None))
    else:
        given["home"] = home
    settings = load_settings(given)
    check_home(settings.home, "--home" if home is not None else ENV_HOME)
    return settings


def _check_folder(path: Path, what: str, fix: str) -> None:
    if not path.exists():
        raise click.BadParameter(f"{path} does not exist; {fix}", param_hint=what)
    if not path.is_dir():
        raise click.BadParameter(f"{path} is a file, not a folder; {fix}", param_hint=what)


# --- one line per mistake ----------------------------------------------------------------------

_OS_HINTS = {
    errno.ENOENT: "check the path (it does not exist)",
    errno.ENOTDIR: "part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder; give a file",
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.EROFS: "it is on a read-only file system; choose another place",
    errno.ENOSPC: "the disk is full",
    errno.EEXIST: "it already exists",
}


# A path the user gave that is missing, of the wrong kind or not theirs: a usage mistake.
_USAGE_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EEXIST}


def os_error_code(exc: OSError) -> ExitCode:
    """USAGE for a wrong path (missing, wrong kind, no permission), ERROR otherwise."""
    return ExitCode.USAGE if exc.errno in _USAGE_ERRNOS else ExitCode.ERROR


def os_error_line(exc: OSError) -> str:
    """``cannot use PATH: REASON; HINT`` for a file-system error."""
    where = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or str(exc)
    hint = _OS_HINTS.get(exc.errno or 0)
    return f"cannot use {where}: {reason}" + (f"; {hint}" if hint else "")


def usage_line(exc: click.UsageError) -> str:
    """A click usage error as one line that says where to read more."""
    command = exc.ctx.command_path if exc.ctx is not None else "selfheal"
    return f"{exc.format_message()} (see: {command} --help)"


# --- stopping long-running commands ------------------------------------------------------------

@contextmanager
def stop_on_signals(on_stop: Callable[[int], None]) -> Iterator[None]:
    """Call ``on_stop(signum)`` on SIGINT and SIGTERM for the ``with`` body, whatever handlers
    or dispositions the process inherited (``cmd &`` from a script starts with SIGINT ignored),
    then put the previous handlers back."""
    previous = {s: signal.signal(s, lambda signum, _frame: on_stop(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def selfheal_command() -> str:
    """How to call this ``selfheal`` again from any shell: ``selfheal`` when that is on PATH
    and is this installation, else the absolute path of this installation's script."""
    import shutil
    import sys

    here = Path(sys.executable).with_name("selfheal")
    found = shutil.which("selfheal")
    if found and (not here.exists() or Path(found).resolve() == here.resolve()):
        return "selfheal"
    if here.exists():
        return str(here)
    return f"{sys.executable} -c 'from selfheal.cli import main; main()'"


def local_store(settings: Settings) -> Any:
    """The local error store of ``settings``; a file that is not a usable SQLite database is a
    one-line mistake naming it, not a traceback."""
    import sqlite3

    from selfheal.compose.store import LOCAL_DB_NAME, build_local_store

    try:
        return build_local_store(settings)
    except sqlite3.Error as exc:
        path = settings.home / LOCAL_DB_NAME
        raise click.ClickException(f"cannot open the error store {path}: {exc}; move it away or choose "
                                   "another --home") from exc


def find_error(store: Any, text: str) -> str:
    """The full fingerprint ``text`` names (``selfheal.services.lookup``); when there is none,
    the message also says which store was searched and which others exist."""
    from selfheal.errors import ErrorNotFound
    from selfheal.services.lookup import resolve_fingerprint

    try:
        return resolve_fingerprint(store, text)
    except ErrorNotFound as exc:
        path = getattr(store, "path", None)
        if not isinstance(path, Path):
            raise
        from selfheal.cli.state import known_homes

        home = path.parent
        others = [str(h) for h in known_homes() if h.resolve() != home.resolve()]
        where = f" (searched {home}" + (f"; other stores: {', '.join(others[:3])}" if others else "") + ")"
        raise ErrorNotFound(f"{exc}{where}") from exc


def hint_other_stores(current: Path) -> None:
    """After an empty listing: name the other stores (on standard error), if there are any."""
    from selfheal.cli.state import known_homes

    others = [h for h in known_homes() if h.resolve() != current.resolve()]
    if others:
        click.echo("other stores: " + ", ".join(str(h) for h in others[:5])
                   + " (choose one with --repo or --home)", err=True)


def sweep_first(settings: Settings) -> None:
    """Fixes left FIXING by a killed process -> FAILED (lost); stale worktrees removed."""
    from selfheal.compose.sweep import sweep_local

    local_store(settings)  # an unusable errors.db is one line (local_store), not the sweep's traceback
    message = sweep_local(settings)
    if message:
        click.echo(f"sweep: {message}", err=True)
