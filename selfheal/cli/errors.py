"""``selfheal errors``: the tracked errors in the local store (``<home>/errors.db``).

``selfheal errors [--status S] [--json]`` (or ``errors list``) lists them; ``errors show
FINGERPRINT [--json]`` prints one with its sample trace and attempts; ``errors
ignore|resolve|queue FINGERPRINT`` changes its status (``queue`` re-drives a fix). A FINGERPRINT
may be any unique prefix (``selfheal.services.lookup``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from selfheal.cli.common import (
    cli_settings,
    find_error,
    hint_other_stores,
    home_option,
    json_option,
    local_store,
    repo_option,
    sweep_first,
)
from selfheal.cli.output import echo_json, fmt_time, print_table
from selfheal.domain.records import Status

if TYPE_CHECKING:
    from selfheal.adapters.sqlite_store import SqliteErrorStore
    from selfheal.domain.records import ErrorRecord

_STATUSES = [s.value for s in Status]
_F = TypeVar("_F", bound=Callable[..., Any])


def _list_options(fn: _F) -> _F:
    """``--status``, ``--limit`` and ``--json`` of the listing (the group itself and ``list``)."""
    for option in (
        json_option,
        click.option("--limit", type=int, default=1000, show_default=True, help="at most this many errors"),
        click.option("--status", type=click.Choice(_STATUSES, case_sensitive=False), default=None,
                     help="only errors with this status"),
    ):
        fn = option(fn)
    return fn


def _store(ctx: click.Context, home: Path | None, repo: Path | None = None) -> SqliteErrorStore:
    group_options = ctx.find_object(dict) or {}  # ``selfheal errors --home H show FP``
    if home is None and repo is None and "settings" in group_options:
        return local_store(group_options["settings"])
    return local_store(cli_settings(home or group_options.get("home"), repo or group_options.get("repo")))


def _with_location(fn: _F) -> _F:
    """``--home`` and ``--repo``: which store (on the group and on each subcommand)."""
    return home_option(repo_option(fn))


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _list(store: SqliteErrorStore, status: str | None, limit: int, as_json: bool) -> None:
    records = store.list(Status(status) if status else None, limit=limit)
    if as_json:
        echo_json([r.model_dump(mode="json", exclude={"sample_trace", "attempts"}) for r in records])
        return
    if not records:
        click.echo("no errors recorded" + (f" with status {status}" if status else "")
                   + f" in {store.path.parent}")
        hint_other_stores(store.path.parent)
        return
    print_table("errors", ["id", "status", "count", "first seen", "last seen", "type", "location",
                           "message"],
                [[r.short_id, r.status.value, r.count, fmt_time(r.first_seen), fmt_time(r.last_seen),
                  r.exc_type, r.location, _short(r.message)] for r in records])


@click.group(invoke_without_command=True)
@_with_location
@_list_options
@click.pass_context
def errors(ctx: click.Context, home: Path | None, repo: Path | None, status: str | None, limit: int,
           as_json: bool) -> None:
    """List the tracked errors, most recently seen first.

    \b
    Example:
      selfheal errors --status new --repo ~/src/orders
    """
    ctx.ensure_object(dict)
    settings = cli_settings(home, repo)
    ctx.obj.update(home=home, repo=repo, settings=settings)
    sweep_first(settings)  # fixes a killed process left FIXING are FAILED before anyone reads them
    if ctx.invoked_subcommand is None:
        _list(_store(ctx, home, repo), status.upper() if status else None, limit, as_json)


@errors.command("list")
@_with_location
@_list_options
@click.pass_context
def list_errors(ctx: click.Context, home: Path | None, repo: Path | None, status: str | None, limit: int,
                as_json: bool) -> None:
    """List the tracked errors (same as `selfheal errors`).

    \b
    Example:
      selfheal errors list --json
    """
    _list(_store(ctx, home, repo), status.upper() if status else None, limit, as_json)


def _show_text(rec: ErrorRecord) -> None:
    print_table(f"error {rec.fingerprint}", ["field", "value"], [
        ["status", rec.status.value + (f" ({rec.status_reason})" if rec.status_reason else "")],
        ["type", rec.exc_type], ["message", rec.message], ["count", rec.count],
        ["first seen", fmt_time(rec.first_seen)], ["last seen", fmt_time(rec.last_seen)],
        ["location", rec.location], ["source", rec.source or "-"],
        ["in-app frames", "\n".join(f"{f.file}:{f.line or '?'} in {f.function or '?'}" for f in rec.frames)
         or "-"],
        ["branch", rec.branch], ["pull request", rec.pr_url], ["previous pull request", rec.previous_pr_url],
        ["tokens in/out", f"{rec.tokens_in}/{rec.tokens_out}"], ["cost", f"${rec.cost_usd:.4f}"],
        ["fingerprint version", rec.fingerprint_version],
    ])
    click.echo("sample trace:")
    click.echo(rec.sample_trace.rstrip() or "-")
    if not rec.attempts:
        click.echo("no fix attempts yet")
        return
    rows: list[list[Any]] = []
    for att in rec.attempts:
        why = "; ".join(att.reasons) or att.error or "-"
        rows.append([att.number, att.outcome, fmt_time(att.started_at), fmt_time(att.finished_at),
                     att.execution or "-", why, f"${att.cost_usd:.4f}"])
        for step in att.steps:
            detail = step.error or ""
            rows.append(["", f"  {step.state}: {step.outcome}", fmt_time(step.started_at),
                         f"{step.duration_ms} ms" if step.duration_ms is not None else "-", "", detail, ""])
    print_table("attempts", ["#", "outcome / step", "started", "finished / took", "execution", "reasons",
                             "cost"], rows)


@errors.command("show")
@click.argument("fingerprint")
@_with_location
@json_option
@click.pass_context
def show(ctx: click.Context, fingerprint: str, home: Path | None, repo: Path | None, as_json: bool) -> None:
    """Print one error with its sample trace and attempts (FINGERPRINT may be a prefix).

    \b
    Example:
      selfheal errors show 97d0ea50
    """
    store = _store(ctx, home, repo)
    rec = store.get(find_error(store, fingerprint))
    assert rec is not None
    inputs = store.inputs(rec.fingerprint)  # captured failing inputs, redacted at capture
    if as_json:
        echo_json(rec.model_dump(mode="json")
                  | {"captured_inputs": [i.model_dump(mode="json") for i in inputs]})
    else:
        _show_text(rec)
        click.echo(f"captured inputs: {len(inputs) or 'none'}")
        for i, item in enumerate(inputs, 1):
            note = " (over the size cap: not replayed)" if item.truncated else ""
            click.echo(f"  #{i} {item.kind} {item.request_id or '-'}{note}: {_short(item.event, 400)}")


def _status_command(name: str, to: Status, default_reason: str, doc: str) -> click.Command:
    """``selfheal errors <name> FINGERPRINT [--reason R]``: move one error to status ``to``."""

    @errors.command(name, help=f"{doc}\n\n\b\nExample:\n  selfheal errors {name} 97d0ea50")
    @click.argument("fingerprint")
    @_with_location
    @click.option("--reason", default=default_reason, show_default=True, help="recorded on the error")
    @json_option
    @click.pass_context
    def command(ctx: click.Context, fingerprint: str, home: Path | None, repo: Path | None,
                reason: str, as_json: bool) -> None:
        store = _store(ctx, home, repo)
        fp = find_error(store, fingerprint)
        rec = store.get(fp)
        already = rec is not None and rec.status == to  # asked twice: done, not a mistake
        if not already:
            rec = store.transition(fp, to, reason=reason)
        assert rec is not None
        if as_json:
            echo_json(rec.model_dump(mode="json", exclude={"sample_trace", "attempts"}))
        else:
            click.echo(f"{rec.short_id} is {'already' if already else 'now'} {rec.status.value}")

    return command


ignore = _status_command("ignore", Status.IGNORED, "ignored by hand",
                         "Stop tracking an error for fixes (status IGNORED).")
resolve_cmd = _status_command(
    "resolve", Status.RESOLVED, "resolved by hand",
    "Mark an error fixed (status RESOLVED); if it is seen again it becomes REGRESSED.")
queue = _status_command("queue", Status.QUEUED, "re-driven by hand",
                        "Queue a new fix attempt for an error (status QUEUED; `selfheal watch` starts it).")
