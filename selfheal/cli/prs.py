"""``selfheal prs``: the local pull requests (fix branches plus records under ``<home>/prs``).

``selfheal prs [--state open] [--json]`` lists them; ``selfheal prs show N`` prints one (its
markdown body, or ``--json``); ``selfheal prs close N`` closes one, so the next run of that
error's fix will not reopen it without a re-drive. ``selfheal prs sync`` asks the configured code
host (local git, GitHub or GitLab) about the PR of every error in PR_OPEN: merged -> RESOLVED,
closed unmerged -> FAILED (``selfheal.services.pr_sync``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from selfheal.cli.common import (
    cli_settings,
    hint_other_stores,
    home_option,
    json_option,
    local_store,
    repo_option,
)
from selfheal.cli.output import echo_json, fmt_time, print_table

if TYPE_CHECKING:
    from selfheal.adapters.local_prs import PrRecord, PrRecordStore


def _store(home: Path | None, repo: Path | None = None) -> PrRecordStore:
    from selfheal.adapters.local_prs import PrRecordStore

    return PrRecordStore(cli_settings(home, repo).home)


def _record(store: PrRecordStore, number: int) -> PrRecord:
    """Record ``number``; a number with no record is one line that says how to list them."""
    from selfheal.errors import ConfigurationError

    try:
        return store.get(number)
    except ConfigurationError as exc:
        raise click.ClickException(f"{exc}; list them with: selfheal prs") from exc


@click.group(invoke_without_command=True)
@home_option
@repo_option
@click.option("--state", type=click.Choice(["open", "closed", "merged", "all"]), default="all",
              show_default=True, help="only pull requests in this state")
@json_option
@click.pass_context
def prs(ctx: click.Context, home: Path | None, repo: Path | None, state: str, as_json: bool) -> None:
    """List the local pull requests opened by selfheal.

    \b
    Example:
      selfheal prs --state open --repo ~/src/orders
    """
    if ctx.invoked_subcommand is not None:
        return
    store = _store(home, repo)
    records = [r for r in store.all() if state == "all" or r.state == state]
    if as_json:
        echo_json([r.model_dump(mode="json", exclude={"body"}) for r in records])
        return
    if not records:
        click.echo(f"no pull requests yet in {store.dir.parent}")
        hint_other_stores(store.dir.parent)
        return
    print_table("pull requests", ["#", "state", "branch", "base", "title", "labels", "updated"],
                [[r.number, r.state + (" (draft)" if r.draft and r.state == "open" else ""), r.branch,
                  r.base, r.title, ", ".join(r.labels), fmt_time(r.updated_at)] for r in records])


@prs.command("show")
@click.argument("number", type=int)
@home_option
@repo_option
@json_option
def show(number: int, home: Path | None, repo: Path | None, as_json: bool) -> None:
    """Print pull request NUMBER (its markdown, or the whole record with --json).

    \b
    Example:
      selfheal prs show 1
    """
    from selfheal.adapters.local_prs import render_markdown

    rec = _record(_store(home, repo), number)
    if as_json:
        echo_json(rec.model_dump(mode="json"))
    else:
        click.echo(render_markdown(rec), nl=False)


@prs.command("close")
@click.argument("number", type=int)
@home_option
@repo_option
@json_option
def close(number: int, home: Path | None, repo: Path | None, as_json: bool) -> None:
    """Close pull request NUMBER without merging (a re-drive can open a new one).

    \b
    Example:
      selfheal prs close 1
    """
    store = _store(home, repo)
    rec = _record(store, number)
    if rec.state == "merged":
        raise click.ClickException(f"pull request #{number} was merged; it cannot be closed")
    if rec.state != "closed":
        rec = store.set_state(number, "closed")
    if as_json:
        echo_json(rec.model_dump(mode="json", exclude={"body"}))
    else:
        click.echo(f"closed #{rec.number} ({rec.branch})")


@prs.command("sync")
@home_option
@repo_option
@json_option
def sync(home: Path | None, repo: Path | None, as_json: bool) -> None:
    """Resolve errors whose fix PR was merged; fail those whose PR was closed unmerged.

    \b
    Example:
      selfheal prs sync --repo ~/src/orders
    """
    from selfheal.compose.source import build_source
    from selfheal.services.pr_sync import sync_pull_requests

    settings = cli_settings(home, repo)
    if settings.repo is None and not settings.repo_url:
        raise click.UsageError("no repository to ask about its pull requests: pass --repo PATH, run it "
                               "inside your repository, or set SELFHEAL_REPO_URL")
    _, host = build_source(settings)
    report = sync_pull_requests(local_store(settings), host)
    if as_json:
        echo_json(report.as_dict())
        return
    for line in report.problems:
        click.echo(f"problem: {line}", err=True)
    if not report.changes:
        click.echo("nothing in PR_OPEN to sync")
        return
    print_table("fix pull requests", ["error", "branch", "PR", "PR state", "status", "note"],
                [[c.fingerprint[:12], c.branch, c.pr_url, c.pr_state, str(c.status), c.note]
                 for c in report.changes])
    click.echo(f"{report.checked} checked: {len(report.resolved)} resolved, {len(report.failed)} failed, "
               f"{len(report.still_open)} still open, {len(report.missing)} without a PR")
