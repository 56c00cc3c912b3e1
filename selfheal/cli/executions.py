"""``selfheal executions``: the fix runs recorded on the errors (the durable history; Express
executions cannot be described later). ``executions [list] [FINGERPRINT]`` lists them,
``executions show RUN [--svg FILE]`` prints one run state by state (and draws it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from selfheal.cli.common import (
    UserPath,
    cli_settings,
    find_error,
    home_option,
    json_option,
    local_store,
    repo_option,
)
from selfheal.names import ENV_TABLE_NAME

_table_option = click.option("--table", envvar=ENV_TABLE_NAME,
                             help="AWS mode: read the runs from this DynamoDB table")


def _store(ctx: click.Context, home: Path | None, repo: Path | None, table: str | None) -> Any:
    group = ctx.find_object(dict) or {}
    table = table or group.get("table")
    if table:
        from selfheal.compose.store import build_dynamodb_store

        return build_dynamodb_store(table)
    return local_store(cli_settings(home or group.get("home"), repo or group.get("repo")))


class _ListByDefault(click.Group):
    """``executions FINGERPRINT`` means ``executions list FINGERPRINT``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        at = _first_positional(self, ctx, args)
        if at is not None and args[at] not in self.commands:
            args = [*args[:at], "list", *args[at:]]
        return super().parse_args(ctx, args)


def _first_positional(group: click.Group, ctx: click.Context, args: list[str]) -> int | None:
    """Index of the first word that is neither an option nor the value of a group option."""
    takes_value = {o for p in group.get_params(ctx) if isinstance(p, click.Option) and not p.is_flag
                   for o in p.opts}
    skip = False
    for i, word in enumerate(args):
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in takes_value  # ``--home H``; ``--home=H`` carries its value
        else:
            return i
    return None


@click.group(cls=_ListByDefault, invoke_without_command=True)
@home_option
@repo_option
@_table_option
@json_option
@click.pass_context
def executions(ctx: click.Context, home: Path | None, repo: Path | None, table: str | None,
               as_json: bool) -> None:
    """List fix runs, newest first (with FINGERPRINT: the runs of that error).

    \b
    Example:
      selfheal executions
      selfheal executions show 97d0ea50ab12-1 --svg run.svg
    """
    ctx.ensure_object(dict)
    ctx.obj.update(home=home, repo=repo, table=table, as_json=as_json)
    if ctx.invoked_subcommand is None:
        from selfheal.cli import workflow_views as views

        views.list_executions(_store(ctx, home, repo, table), None, as_json)


@executions.command("list")
@click.argument("fingerprint", required=False)
@home_option
@repo_option
@_table_option
@json_option
@click.pass_context
def list_runs(ctx: click.Context, fingerprint: str | None, home: Path | None, repo: Path | None,
              table: str | None, as_json: bool) -> None:
    """List fix runs, of one error when FINGERPRINT (any unique prefix) is given.

    \b
    Example:
      selfheal executions list 97d0ea50 --json
    """
    from selfheal.cli import workflow_views as views

    store = _store(ctx, home, repo, table)
    fp = find_error(store, fingerprint) if fingerprint else None
    views.list_executions(store, fp, as_json or bool((ctx.find_object(dict) or {}).get("as_json")))


@executions.command("show")
@click.argument("run")
@click.option("--svg", "svg_file", type=UserPath(path_type=Path, dir_okay=False),
              help="also draw the run as SVG into this file")
@home_option
@repo_option
@_table_option
@json_option
@click.pass_context
def show_run(ctx: click.Context, run: str, svg_file: Path | None, home: Path | None, repo: Path | None,
             table: str | None, as_json: bool) -> None:
    """Print one run state by state: outcome, retries, duration, error. RUN is an execution
    name (from `selfheal executions`) or an error's id (its latest run).

    \b
    Example:
      selfheal executions show 97d0ea50ab12-1 --svg run.svg
    """
    from selfheal.cli import workflow_views as views

    views.show_execution(_store(ctx, home, repo, table), run, svg_file,
                         as_json or bool((ctx.find_object(dict) or {}).get("as_json")))
