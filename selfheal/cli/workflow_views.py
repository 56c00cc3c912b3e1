"""Tables and drawings of fix executions, from the error records (the durable history)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

from selfheal.adapters.asl_file import default_asl, read_definition
from selfheal.cli.output import echo_json, fmt_time, print_table
from selfheal.domain.records import Attempt, ErrorRecord
from selfheal.errors import ErrorNotFound
from selfheal.names import execution_name
from selfheal.services.workflow.history import StepView, path_from_attempt, run_status

ASL = default_asl()  # the checkout's statemachine/ file, else the installed copy


def _runs(store: Any, fingerprint: str | None) -> list[tuple[ErrorRecord, Attempt]]:
    records = [store.get(fingerprint)] if fingerprint else store.list()
    runs = [(r, a) for r in records if r is not None for a in r.attempts]
    return sorted(runs, key=lambda ra: ra[1].started_at, reverse=True)


def execution_id(record: ErrorRecord, attempt: Attempt) -> str:
    name = attempt.execution or execution_name(record.fingerprint, attempt.number)
    return name.rsplit(":", 1)[-1]


def find_run(store: Any, ident: str) -> tuple[ErrorRecord, Attempt]:
    """The run named ``ident``: an execution name or ARN (``<fingerprint prefix>-<attempt>``, or
    a continuation's ``...-<attempt>-c<k>`` as ``watch`` prints it: that attempt), or an error's
    id (a unique prefix): that error's latest run."""
    from selfheal.services.workflow.continuation import continuation_name

    name = ident.rsplit(":", 1)[-1]
    prefix = name.split("-", 1)[0].lower()
    _, sep, k = name.rpartition("-c")
    continuation = int(k) if sep and k.isdigit() else None
    # the name starts with the error's id: look only at those errors (ErrorStore.find)
    matches = list(store.find(prefix)) if prefix else []
    for fingerprint in matches:
        for record, attempt in _runs(store, fingerprint):
            names = {execution_id(record, attempt)}
            if continuation is not None:
                names.add(continuation_name(record, attempt.number, continuation))
            if name in names:
                return record, attempt
    if "-" not in name and len(matches) == 1:  # an error's id, as `selfheal errors` prints it
        runs = _runs(store, matches[0])
        if runs:
            return runs[0]
        raise ErrorNotFound(f"{matches[0][:12]} has no fix runs yet; start one with: selfheal fix "
                            f"{matches[0][:12]}")
    raise ErrorNotFound(f"no execution {ident!r} in the error records; list them with: selfheal executions")


def _duration(att: Attempt) -> str:
    if att.finished_at is None:
        return "-"
    return f"{(att.finished_at - att.started_at).total_seconds():.1f} s"


def list_executions(store: Any, fingerprint: str | None, as_json: bool) -> None:
    runs = _runs(store, fingerprint)
    if as_json:
        echo_json([{"execution": execution_id(r, a), "fingerprint": r.fingerprint, "attempt": a.number,
                    "exc_type": r.exc_type, "started_at": a.started_at, "finished_at": a.finished_at,
                    "outcome": a.outcome, "failed_state": a.failed_state, "error": a.error,
                    "states": [s.state for s in a.steps]} for r, a in runs])
        return
    rows = [(execution_id(r, a), r.exc_type, fmt_time(a.started_at), _duration(a), a.outcome,
             len(path_from_attempt(a)), a.failed_state or (a.reasons[0][:60] if a.reasons else ""))
            for r, a in runs]
    print_table("fix executions", ["execution", "error", "started", "took", "outcome", "states", "note"],
                rows)


def _note(view: StepView) -> str:
    parts = []
    if view.duration_ms is not None:
        parts.append(f"{view.duration_ms} ms")
    if view.retries:
        parts.append(f"{view.retries} retr{'y' if view.retries == 1 else 'ies'}")
    if view.error and view.outcome in ("caught", "failed"):
        parts.append(view.error)
    return ", ".join(parts)


def show_execution(store: Any, ident: str, svg_file: Path | None, as_json: bool) -> None:
    record, attempt = find_run(store, ident)
    path = path_from_attempt(attempt)
    if svg_file is not None:
        from selfheal.domain.svg import render_svg, resumed_at

        definition = json.loads(read_definition(ASL))
        status = run_status(definition, path, attempt.outcome)
        svg = render_svg(definition, status, {v.state: _note(v) for v in path},
                         title=f"{execution_id(record, attempt)}  {record.exc_type}  {attempt.outcome}",
                         resumed=resumed_at(definition, path[0].state if path else None),
                         visits=Counter(v.state for v in path))
        svg_file.write_text(svg, encoding="utf-8")
    if as_json:
        echo_json({"execution": execution_id(record, attempt), "fingerprint": record.fingerprint,
                   "attempt": attempt.model_dump(mode="json", exclude={"steps"}),
                   "path": [v.model_dump(mode="json") | {"retries": v.retries} for v in path]})
        return
    click.echo(f"execution {execution_id(record, attempt)}  error {record.short_id} {record.exc_type}: "
               f"{record.message[:80]}")
    click.echo(f"attempt {attempt.number}  outcome {attempt.outcome}  started {fmt_time(attempt.started_at)}"
               f"  took {_duration(attempt)}  tokens {attempt.tokens_in}/{attempt.tokens_out}")
    rows = [(i + 1, v.state, v.outcome, v.retries, v.duration_ms,
             f"{v.error}: {v.cause}"[:100] if v.error else "") for i, v in enumerate(path)]
    print_table(None, ["#", "state", "outcome", "retries", "ms", "error"], rows)
    for reason in attempt.reasons:
        click.echo(f"reason: {reason}")
    if svg_file is not None:
        click.echo(f"drawing: {svg_file}")
