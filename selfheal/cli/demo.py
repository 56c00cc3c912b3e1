"""``selfheal demo``: copy the bundled sample service, crash it, and fix it end to end, offline.

Thin: the work is ``selfheal.compose.demo.run_demo``; this prints its progress and results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from selfheal.cli.common import UserPath, json_option, model_option, selfheal_command
from selfheal.cli.output import echo_json, print_table

_OK, _BAD = "✓", "✗"


class _Printer:
    """Live progress: one line per demo step, one growing line of states per fix."""

    def __init__(self) -> None:
        self.step = 0

    def __call__(self, ev: Any) -> None:
        if ev.kind == "step":
            self.step += 1
            click.echo(f"[{self.step}] {ev.text}")
        elif ev.kind == "fix_started":
            click.echo(f"    {ev.text}")
            click.echo("      ", nl=False)
        elif ev.kind == "state":
            # no duration here: the table below prints the recorded ones (one source, as
            # `selfheal executions show` prints them)
            click.echo(f"{_OK if ev.ok else '·'} {ev.state}  ", nl=False)
        elif ev.kind == "fix_done":
            click.echo(f"-> {click.style(ev.text, fg='green' if ev.ok else 'yellow')}")


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _tests(counts: dict[str, Any] | None) -> str:
    if not counts:
        return "-"
    return f"{counts.get('passed', 0)} passed, {counts.get('failed', 0) + counts.get('errors', 0)} failed"


def _print_results(result: Any) -> None:
    from selfheal.compose.demo import branch_diff

    print_table("Errors in the service's log", ["id", "seen", "error", "where", "status"],
                [[e["short_id"], e["count"], _short(f"{e['exc_type']}: {e['message']}", 44), e["location"],
                  e["status"]] for e in result.errors])
    first = result.fixes[0] if result.fixes else None
    shown = next((f for f in result.fixes if f.status == "PR_OPEN"), first)
    if shown is None:
        return
    print_table(f"Execution {shown.execution_name}: {shown.exc_type}",
                ["state", "outcome", "tries", "ms"],
                [[s["state"], s["outcome"], s["tries"], s.get("duration_ms")] for s in shown.path])
    click.echo(f"  tests before the fix: {_tests(shown.tests_before)}; after: {_tests(shown.tests_after)}; "
               f"verified: {'yes' if shown.verified else 'no'}")
    for test in shown.newly_passing[:5]:
        click.echo(f"    now passing: {test}")
    pr = next((p for p in result.prs if p["branch"] == shown.branch), None)
    if pr is not None:
        click.echo(f"\nPull request #{pr['number']}: {pr['title']}")
        click.echo(f"  {pr['branch']} -> {pr['base']}  labels: {', '.join(pr['labels'])}  "
                   f"{'draft' if pr['draft'] else ''}")
        click.echo(f"  record: {pr['url']}")
        click.echo(branch_diff(result.repo, pr["branch"]).rstrip())
    others = [f for f in result.fixes if f is not shown]
    if others:
        click.echo("\nOther fixes:")
        for f in others:
            why = f"  ({f.reasons[0]})" if f.reasons and f.status != "PR_OPEN" else ""
            click.echo(f"  {f.fingerprint[:12]} {f.exc_type} at {f.location}: {f.status} "
                       f"{f.branch or ''}{why}")


def _print_where(result: Any) -> None:
    home = result.home
    click.echo(f"\nDone in {result.seconds:.0f} s. Where everything is:")
    rows = [("sample service (git)", result.repo), ("its log", result.log),
            ("error store (SQLite)", home / "errors.db"), ("workflow artifacts", home / "artifacts"),
            ("pull request records", home / "prs")]
    for label, path in rows:
        click.echo(f"  {label:22} {path}")
    me = selfheal_command()
    click.echo("Look around:")
    click.echo(f"  git -C {result.repo} log --oneline --all")
    click.echo(f"  {me} errors --home {home}")
    if result.fixes:
        click.echo(f"  {me} executions show {result.fixes[0].execution_name} --home {home} --svg run.svg")
    click.echo(f"  {me} prs --home {home}")


@click.command()
@click.option("--dir", "directory", type=UserPath(path_type=Path),
              help="new or empty directory for the demo (default: selfheal-demo, -2, ... in the temp dir)")
@model_option(default="rules")
@json_option
def demo(directory: Path | None, model: str, as_json: bool) -> None:
    """Crash a sample orders service and fix it end to end: ingest, error store, the fix workflow
    (ASL in the local engine), the offline fixer, validation with the service's tests, branch + PR.

    \b
    Example:
      selfheal demo --dir /tmp/try-selfheal
    """
    from selfheal.compose.demo import choose_root, run_demo
    from selfheal.errors import ConfigurationError

    try:
        root = choose_root(directory)
    except ConfigurationError as exc:  # a --dir in use (a second demo into it): a usage mistake
        raise click.BadParameter(f"{directory} is in use (not an empty folder); give a new one, or leave "
                                 "--dir out to get a fresh folder each time", param_hint="--dir") from exc
    if as_json:
        echo_json(run_demo(root, lambda ev: None, model).model_dump(mode="json"))
        return
    click.echo(f"selfheal demo in {root} (model: {model}; nothing leaves this machine"
               f"{'' if model == 'rules' else ' except the model calls'})")
    result = run_demo(root, _Printer(), model)
    click.echo("")
    _print_results(result)
    _print_where(result)
