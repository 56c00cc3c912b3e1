"""The ``selfheal`` command line.

Commands are imported lazily (``LAZY_COMMANDS``) so ``selfheal parse`` starts fast: the
benchmark scorer runs it once per sample, and boto3/moto imports cost a second each.
Each command module is a thin edge over the library: parse options, call a service, print a
table (rich) or JSON (``--json``), and turn ``SelfhealError`` into a clear message and exit 1.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from selfheal import __version__
from selfheal.errors import SelfhealError

# command name -> "module:attribute"
LAZY_COMMANDS: dict[str, str] = {
    "parse": "selfheal.cli.parse:parse",
    "ingest": "selfheal.cli.ingest:ingest",
    "errors": "selfheal.cli.errors:errors",
    "prs": "selfheal.cli.prs:prs",
    "fix": "selfheal.cli.workflow:fix",
    "executions": "selfheal.cli.workflow:executions",
    "redrive": "selfheal.cli.workflow:redrive",
    "watch": "selfheal.cli.workflow:watch",
    "validate": "selfheal.cli.validate:validate",
    "demo": "selfheal.cli.demo:demo",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None  # command not built yet in this checkout
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="selfheal")
def cli() -> None:
    """selfheal: find Python tracebacks in logs, group them, and open reviewed fix PRs."""


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: run the CLI, turning our errors into one clear line."""
    try:
        return cli.main(args=argv, prog_name="selfheal", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SelfhealError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(0)
