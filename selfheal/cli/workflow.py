"""``selfheal fix | redrive | watch``: run the fix workflow locally. Thin: options in, one
composed call (``selfheal.compose.workflow``, ``.watch``, ``.redrive``), a table or JSON out.

Each fix ends PR_OPEN, ABSTAINED or FAILED (the error's outcome, not the engine's status) and
the exit code follows it (``selfheal.cli.common.outcome_exit_code``).
"""

from __future__ import annotations

import json
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
    model_option,
    outcome_exit_code,
    repo_option,
    stop_on_signals,
    sweep_first,
)
from selfheal.cli.output import echo_json
from selfheal.names import ENV_ARTIFACT_BUCKET, ENV_TABLE_NAME

ENGINE_HELP = ("local: moto's interpreter in-process (default); sfn: the workflow at "
               "SELFHEAL_SFN_ENDPOINT_URL (Step Functions Local), see docs/deployment.md")
_engine_option = click.option("--engine", type=click.Choice(["local", "sfn"]), default="local",
                              envvar="SELFHEAL_ENGINE", show_default=True, help=ENGINE_HELP)


def _store(settings: Any) -> Any:
    return local_store(settings)


def _live_progress(settings: Any) -> Any:
    from selfheal.adapters.asl_file import default_asl, read_definition
    from selfheal.cli.progress import LiveProgress

    try:
        definition = json.loads(read_definition(default_asl()))
    except Exception:  # noqa: BLE001 - only the retry countdown needs it
        definition = {}
    return LiveProgress(definition, settings.retry_interval_scale)


def _print_outcome(out: Any) -> None:
    from selfheal.cli.output import print_table

    click.echo(f"\n{out.status}  execution {out.execution_name} (attempt {out.attempt})")
    if out.path:  # durations from the record, as `selfheal executions show` prints them
        print_table(None, ["state", "outcome", "ms"], [[v.state, v.outcome, v.duration_ms] for v in out.path])
    if out.pr_url:
        click.echo(f"  pull request: {out.pr_url}\n  branch: {out.branch}")
    for reason in out.reasons:
        click.echo(f"  reason: {reason}")
    if out.failed_state:
        click.echo(f"  failed in {out.failed_state}: {out.error}: {out.cause}")
        click.echo(f"  re-drive with: selfheal redrive {out.fingerprint[:12]}")


def _finish(out: Any, as_json: bool) -> None:
    if as_json:
        echo_json(out.model_dump(mode="json"))
    else:
        _print_outcome(out)
    code = outcome_exit_code(out.status)
    if code:
        raise SystemExit(int(code))


def _prepare(home: Path | None, repo: Path | None, model: str | None, fingerprint: str) -> tuple[Any, str]:
    """The settings of a fix (``_fix_settings``) and the full fingerprint meant."""
    settings = _fix_settings(home, repo, model)
    return settings, find_error(_store(settings), fingerprint)


def _fix_settings(home: Path | None, repo: Path | None, model: str | None) -> Any:
    """The settings of a command that runs fixes (``fix``, ``redrive``, ``watch``): ``repo`` in
    a git work tree, a model of a known form, fixes a killed process left FIXING swept."""
    settings = cli_settings(home, repo, model, need_git=True)
    if model is None:  # --model was checked by its option; the setting's value is checked here
        from selfheal.compose.models import check_model_spec
        from selfheal.errors import ConfigurationError

        try:
            check_model_spec(settings.model)
        except ConfigurationError as exc:
            raise click.BadParameter(str(exc), param_hint="SELFHEAL_MODEL or [tool.selfheal] model") from exc
    sweep_first(settings)
    return settings


def _run(settings: Any, fp: str, *, engine: str, model: str | None, as_json: bool, banner: str,
         redrive: bool = False, from_state: str | None = None, timeout: float = 3600.0,
         force: bool = False) -> None:
    """Run one fix (``redrive``: a re-drive from ``from_state``) on the chosen engine, with live
    progress unless ``--json``, then print its outcome and exit with its code (``fix`` and
    ``redrive`` share it)."""

    def run(progress: Any) -> Any:
        if engine == "sfn":
            from selfheal.compose.sfn_endpoint import run_on_endpoint

            return run_on_endpoint(settings, fp, from_state=from_state, redrive=redrive, progress=progress,
                                   timeout=timeout, force=force)
        from selfheal.compose.workflow import redrive_fix, run_fix

        if redrive:
            return redrive_fix(settings, fp, from_state, model, progress=progress, timeout=timeout)
        return run_fix(settings, fp, model, progress=progress, timeout=timeout, force=force)

    if as_json:
        out = run(None)
    else:
        click.echo(banner)
        with _live_progress(settings) as progress:
            out = run(progress)
    _finish(out, as_json)


@click.command()
@click.argument("fingerprint")
@repo_option
@model_option()
@home_option
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="seconds to wait")
@click.option("--force", is_flag=True, help="restart an error left FIXING by a run that was killed")
@_engine_option
@json_option
def fix(fingerprint: str, repo: Path | None, model: str | None, home: Path | None, timeout: float,
        force: bool, engine: str, as_json: bool) -> None:
    """Run the fix workflow for one error (a fingerprint or a unique prefix of one).

    Ends PR_OPEN (exit 0), ABSTAINED (exit 3) or FAILED (exit 1).

    \b
    Example:
      selfheal fix 97d0ea50 --repo ~/src/orders
    """
    settings, fp = _prepare(home, repo, model, fingerprint)
    _run(settings, fp, engine=engine, model=model, as_json=as_json, timeout=timeout, force=force,
         banner=f"fixing {fp[:12]} with model {settings.model}")


@click.command()
@click.argument("fingerprint")
@click.option("--from-state", help="state to resume from (default: the failed state)")
@repo_option
@model_option()
@home_option
@click.option("--table", envvar=ENV_TABLE_NAME,
              help="AWS mode: the DynamoDB table; the error goes back to QUEUED for the queue")
@click.option("--bucket", envvar=ENV_ARTIFACT_BUCKET,
              help="AWS mode: the artifacts bucket; the fresh execution resumes at the state")
@_engine_option
@json_option
def redrive(fingerprint: str, from_state: str | None, repo: Path | None, model: str | None,
            home: Path | None, table: str | None, bucket: str | None, engine: str, as_json: bool) -> None:
    """Re-run a FAILED or ABSTAINED fix, reusing the recorded artifacts of completed states.

    \b
    Example:
      selfheal redrive 97d0ea50 --repo ~/src/orders --from-state ValidatePatch
    """
    if table:
        from selfheal.compose.redrive import request_aws_redrive

        rec = request_aws_redrive(table, fingerprint, from_state, bucket)
        if as_json:
            echo_json(rec.model_dump(mode="json"))
        else:
            click.echo(f"{rec.fingerprint[:12]} is {rec.status}: the queue starts a new execution")
        return
    settings, fp = _prepare(home, repo, model, fingerprint)
    _run(settings, fp, engine=engine, model=model, as_json=as_json, redrive=True, from_state=from_state,
         banner=f"re-driving {fp[:12]}" + (f" from {from_state}" if from_state else ""))


@click.command()
@click.argument("log", type=UserPath(path_type=Path, dir_okay=False))
@repo_option
@model_option()
@home_option
@click.option("--poll", type=float, default=0.5, show_default=True, help="seconds between reads")
@click.option("--sync-prs", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="seconds between fix-PR syncs (merged -> RESOLVED, closed -> FAILED); 0: never")
@click.option("--from-start", is_flag=True,
              help="read LOG from its beginning, not from where the last watch or ingest of it stopped")
@click.option("--json", "as_json", is_flag=True,
              help="one JSON object per line per event (docs/usage.md lists the kinds), the summary last")
def watch(log: Path, repo: Path | None, model: str | None, home: Path | None, poll: float,
          sync_prs: float, from_start: bool, as_json: bool) -> None:
    """Follow LOG: ingest new tracebacks and fix new errors until Ctrl-C or SIGTERM.

    A clean stop ingests what was read, waits for fixes in flight (a second Ctrl-C abandons
    them) and remembers the position (the cursor `selfheal ingest` shares). A LOG that does not
    exist yet is waited for. Each fix is reported by its outcome: PR_OPEN, ABSTAINED or FAILED.
    Fix PRs are synced as `selfheal prs sync` does, so an error whose fix was merged and that
    shows up again is REGRESSED.

    \b
    Example:
      selfheal watch /var/log/orders/app.log --repo ~/src/orders
    """
    from selfheal.compose.watch import local_watch
    from selfheal.services.workflow.watch_events import Watching

    say = _watch_printer(as_json)
    settings = _fix_settings(home, repo, model)
    with local_watch(settings, log, model, poll_seconds=poll, sync_prs_seconds=sync_prs,
                     on_event=say, from_start=from_start) as session:
        def on_signal(_signum: int) -> None:
            if session.watcher.stopping:
                raise KeyboardInterrupt
            session.watcher.stop()  # it says "stopping" when its loop ends

        with stop_on_signals(on_signal):
            say(Watching(log=str(log)))
            try:
                stats = session.run()
            except KeyboardInterrupt:
                session.abandon_in_flight()
                raise
    say(stats.summary())


def _watch_printer(as_json: bool) -> Any:
    """How ``watch`` prints an event: ``--json``: its JSON object, one per line on standard
    output (and the watching/stopping lines for people on standard error); else its message
    unless it is routine, indented under the unindented watching and stopped lines, stopping on
    standard error."""
    from selfheal.services.workflow.watch_events import Stopping, Summary, WatchEvent, Watching

    def say(event: WatchEvent) -> None:
        if as_json:
            click.echo(json.dumps(event.as_json()))
            if isinstance(event, (Watching, Stopping)):
                click.echo(event.message, err=True)
        elif isinstance(event, Stopping):
            click.echo(event.message, err=True)
        elif event.routine:
            return
        else:
            click.echo(event.message if isinstance(event, (Watching, Summary)) else f"  {event.message}")

    return say


__all__ = ["fix", "redrive", "watch"]
