"""``selfheal fix | executions | redrive | watch``: run the fix workflow locally and read its
history. Thin: options in, a service call, a table or JSON out."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import click

from selfheal.cli.output import echo_json, fmt_time, print_table
from selfheal.errors import ErrorNotFound, MalformedInput
from selfheal.names import ENV_ARTIFACT_BUCKET, ENV_TABLE_NAME

HOME_HELP = "local state folder (default .selfheal, or SELFHEAL_HOME)"
MODEL_HELP = "rules | bedrock:MODEL_ID | anthropic:MODEL | openai:BASE_URL#MODEL"
ENGINE_HELP = ("local: moto's interpreter in-process (default); sfn: the workflow at "
               "SELFHEAL_SFN_ENDPOINT_URL (Step Functions Local), see docs/deployment.md")
_engine_option = click.option("--engine", type=click.Choice(["local", "sfn"]), default="local",
                              envvar="SELFHEAL_ENGINE", show_default=True, help=ENGINE_HELP)
_MARK = {"entered": "▶", "succeeded": "✓", "error": "↻", "caught": "✗", "failed": "✗", "waiting": "⏳"}


def _settings(home: Path | None, repo: Path | None = None, model: str | None = None) -> Any:
    from selfheal.settings import load_settings

    return load_settings({"home": home, "repo": repo, "model": model})


def sweep_first(settings: Any) -> None:
    """Fixes left FIXING by a killed process -> FAILED (lost); stale worktrees removed."""
    from selfheal.compose.sweep import sweep_local

    message = sweep_local(settings)
    if message:
        click.echo(f"sweep: {message}", err=True)


def _store(settings: Any) -> Any:
    from selfheal.compose.store import build_local_store

    return build_local_store(settings)


def resolve_fingerprint(store: Any, text: str) -> str:
    """A full fingerprint, or a unique prefix of one (as tables print them)."""
    if store.get(text) is not None:
        return text
    matches = [r.fingerprint for r in store.list() if r.fingerprint.startswith(text)]
    if not matches:
        raise ErrorNotFound(f"no error matches {text!r}")
    if len(matches) > 1:
        raise MalformedInput(f"{text!r} matches {len(matches)} errors; give more characters")
    return matches[0]


class _ProgressPrinter:
    """Prints each state as it runs, with its wall time."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def __call__(self, ev: Any) -> None:
        now = ev.at.timestamp() if ev.at is not None else time.time()
        if ev.event == "entered":
            self.started[ev.state] = now
            click.echo(f"  {_MARK['entered']} {ev.state} ...")
            return
        if ev.event == "waiting":  # a rate limit: the countdown to the next try of ev.state
            click.echo(f"  {_MARK['waiting']} {ev.state}: waiting {ev.detail} as the service asked")
            return
        began = self.started.get(ev.state)
        took = f" ({(now - began) * 1000:.0f} ms)" if began is not None else ""
        detail = {"error": f": {ev.detail}, retrying if the state allows",
                  "caught": ": error caught -> RecordFailure",
                  "failed": f": execution failed ({ev.detail})"}.get(ev.event, "")
        click.echo(f"  {_MARK.get(ev.event, '·')} {ev.state}{took}{detail}")


def _print_outcome(out: Any) -> None:
    click.echo(f"\n{out.status}  execution {out.execution_name} (attempt {out.attempt})")
    if out.pr_url:
        click.echo(f"  pull request: {out.pr_url}\n  branch: {out.branch}")
    for reason in out.reasons:
        click.echo(f"  reason: {reason}")
    if out.failed_state:
        click.echo(f"  failed in {out.failed_state}: {out.error}: {out.cause}")
        click.echo(f"  re-drive with: selfheal redrive {out.fingerprint[:12]}")


EXIT_ABSTAINED = 3


def _finish(out: Any, as_json: bool) -> None:
    if as_json:
        echo_json(out.model_dump(mode="json"))
    else:
        _print_outcome(out)
    if str(out.status) == "FAILED":
        raise SystemExit(1)
    if str(out.status) == "ABSTAINED":
        # No verified fix: distinct from done (0), error (1) and usage (2); the suggested patch
        # and the reason are in `selfheal errors show`.
        raise SystemExit(EXIT_ABSTAINED)


@click.command()
@click.argument("fingerprint")
@click.option("--repo", type=click.Path(path_type=Path), help="the service's git repository")
@click.option("--model", help=MODEL_HELP)
@click.option("--home", type=click.Path(path_type=Path), help=HOME_HELP)
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="seconds to wait")
@click.option("--force", is_flag=True, help="restart an error left FIXING by a run that was killed")
@_engine_option
@click.option("--json", "as_json", is_flag=True, help="print the outcome as JSON")
def fix(fingerprint: str, repo: Path | None, model: str | None, home: Path | None, timeout: float,
        force: bool, engine: str, as_json: bool) -> None:
    """Run the fix workflow for one error (a fingerprint or a unique prefix of one)."""
    from selfheal.compose.workflow import run_fix

    settings = _settings(home, repo, model)
    sweep_first(settings)
    fp = resolve_fingerprint(_store(settings), fingerprint)
    if not as_json:
        click.echo(f"fixing {fp[:12]} with model {model or settings.model}")
    progress = None if as_json else _ProgressPrinter()
    if engine == "sfn":
        from selfheal.compose.sfn_endpoint import run_on_endpoint

        out = run_on_endpoint(settings, fp, progress=progress, timeout=timeout, force=force)
    else:
        out = run_fix(settings, fp, model, progress=progress, timeout=timeout, force=force)
    _finish(out, as_json)


@click.command()
@click.argument("fingerprint")
@click.option("--from-state", help="state to resume from (default: the failed state)")
@click.option("--repo", type=click.Path(path_type=Path), help="the service's git repository")
@click.option("--model", help=MODEL_HELP)
@click.option("--home", type=click.Path(path_type=Path), help=HOME_HELP)
@click.option("--table", envvar=ENV_TABLE_NAME,
              help="AWS mode: the DynamoDB table; the error goes back to QUEUED for the queue")
@click.option("--bucket", envvar=ENV_ARTIFACT_BUCKET,
              help="AWS mode: the artifacts bucket; the fresh execution resumes at the state")
@_engine_option
@click.option("--json", "as_json", is_flag=True, help="print the outcome as JSON")
def redrive(fingerprint: str, from_state: str | None, repo: Path | None, model: str | None,
            home: Path | None, table: str | None, bucket: str | None, engine: str, as_json: bool) -> None:
    """Re-run a FAILED or ABSTAINED fix, reusing the recorded artifacts of completed states."""
    if table:
        from selfheal.adapters.artifacts_s3 import S3ArtifactStore
        from selfheal.compose.store import build_dynamodb_store
        from selfheal.services.workflow.runner import request_redrive

        store = build_dynamodb_store(table)
        artifacts = S3ArtifactStore(bucket) if bucket else None
        rec = request_redrive(store, resolve_fingerprint(store, fingerprint), from_state, artifacts)
        if as_json:
            echo_json(rec.model_dump(mode="json"))
        else:
            click.echo(f"{rec.fingerprint[:12]} is {rec.status}: the queue starts a new execution")
        return
    from selfheal.compose.workflow import redrive_fix

    settings = _settings(home, repo, model)
    sweep_first(settings)
    fp = resolve_fingerprint(_store(settings), fingerprint)
    if not as_json:
        click.echo(f"re-driving {fp[:12]}" + (f" from {from_state}" if from_state else ""))
    progress = None if as_json else _ProgressPrinter()
    if engine == "sfn":
        from selfheal.compose.sfn_endpoint import run_on_endpoint

        out = run_on_endpoint(settings, fp, from_state=from_state, redrive=True, progress=progress)
    else:
        out = redrive_fix(settings, fp, from_state, model, progress=progress)
    _finish(out, as_json)


@click.command(context_settings={"ignore_unknown_options": False})
@click.argument("args", nargs=-1)
@click.option("--home", type=click.Path(path_type=Path), help=HOME_HELP)
@click.option("--svg", "svg_file", type=click.Path(path_type=Path), help="show: draw the run as SVG")
@click.option("--table", help="AWS mode: read the runs from this DynamoDB table")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def executions(args: tuple[str, ...], home: Path | None, svg_file: Path | None, table: str | None,
               as_json: bool) -> None:
    """List fix runs: `executions [FINGERPRINT]`; one run: `executions show ID [--svg FILE]`.

    The error records are the history (Express executions cannot be described later)."""
    from selfheal.cli import workflow_views as views

    if table:
        from selfheal.compose.store import build_dynamodb_store

        store = build_dynamodb_store(table)
    else:
        store = _store(_settings(home))
    if args and args[0] == "show":
        if len(args) != 2:
            raise click.UsageError("usage: selfheal executions show EXECUTION_ID")
        views.show_execution(store, args[1], svg_file, as_json)
        return
    if len(args) > 1:
        raise click.UsageError("usage: selfheal executions [FINGERPRINT]")
    fp = resolve_fingerprint(store, args[0]) if args else None
    views.list_executions(store, fp, as_json)


@click.command()
@click.argument("log", type=click.Path(path_type=Path))
@click.option("--repo", type=click.Path(path_type=Path), help="the service's git repository")
@click.option("--model", help=MODEL_HELP)
@click.option("--home", type=click.Path(path_type=Path), help=HOME_HELP)
@click.option("--poll", type=float, default=0.5, show_default=True, help="seconds between reads")
@click.option("--sync-prs", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="seconds between fix-PR syncs (merged -> RESOLVED, closed -> FAILED); 0: never")
@click.option("--from-start", is_flag=True,
              help="read LOG from its beginning, not from where the last watch or ingest of it stopped")
def watch(log: Path, repo: Path | None, model: str | None, home: Path | None, poll: float,
          sync_prs: float, from_start: bool) -> None:
    """Follow LOG: ingest new tracebacks and fix new errors until interrupted (Ctrl-C).

    A clean stop ingests what was read, waits for fixes in flight and remembers the position.
    Fix PRs are synced as ``selfheal prs sync`` does, so an error whose fix was merged and that
    shows up again is REGRESSED and fixed again."""
    from selfheal.compose.store import build_ingest_service, build_log_follower, build_policy
    from selfheal.compose.workflow import local_workflow
    from selfheal.services.dispatch import FixStarter, LocalDispatcher
    from selfheal.services.pr_sync import sync_pull_requests
    from selfheal.services.workflow.chain import continue_if_due
    from selfheal.services.workflow.watch import Watcher

    settings = _settings(home, repo, model)
    sweep_first(settings)
    with local_workflow(settings, model) as wf:
        store = wf.services.store
        watcher = Watcher(
            follower=build_log_follower(settings, log, from_start),
            ingest=build_ingest_service(settings, store),
            dispatcher=LocalDispatcher(FixStarter(store, wf.engine, build_policy(settings))),
            wait_execution=lambda ex: wf.engine.wait(ex, timeout=3600.0),
            source=str(log), poll_seconds=poll, on_event=lambda msg: click.echo(f"  {msg}"),
            housekeeping=(lambda: sync_pull_requests(store, wf.services.code_host).summary())
            if sync_prs > 0 else None, housekeeping_seconds=sync_prs,
            continuation=lambda fp, n, info: continue_if_due(store, wf.engine, fp, n, info))
        watcher.resume_pending(store, settings.min_occurrences)

        def on_signal(signum: int, _frame: Any) -> None:
            if watcher.stopping:
                raise KeyboardInterrupt
            click.echo("stopping: finishing what was read (again to abandon fixes in flight)")
            watcher.stop()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        click.echo(f"watching {log} (Ctrl-C to stop)")
        try:
            stats = watcher.run(describe=wf.engine.describe)
        except KeyboardInterrupt:
            from selfheal.services.workflow.runner import abandon

            for fp, number in watcher.in_flight():  # they die with this process: say so
                abandon(store, fp, number, "Interrupted", "watch was stopped while the fix ran")
            raise
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    click.echo(json.dumps({"lines": stats.lines, "tracebacks": stats.tracebacks,
                           "new_errors": stats.new_errors, "fixes_started": len(stats.started),
                           "fixes_finished": len(stats.finished)}))


__all__ = ["executions", "fix", "redrive", "watch", "fmt_time", "print_table"]
