"""``selfheal ingest [FILE|-] [--follow]``: fill the local error store from a log.

Reads the log (a file, or standard input for ``-``), finds every Python traceback, groups them
by fingerprint and merges them into ``<home>/errors.db``: one write per distinct error, counts
added. A file is read from where the last ``ingest``, ``ingest --follow`` or ``watch`` of it
stopped (its cursor in ``<home>/cursors.db``), so ingesting a log again counts only what was
appended; a rotated or truncated file is read from its start; ``--from-start`` re-reads it on
purpose. ``--follow`` keeps reading what is appended (like ``tail -f``) until interrupted.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from selfheal.cli.common import UserPath, cli_settings, home_option, json_option, local_store, stop_on_signals
from selfheal.cli.output import echo_json, print_table

if TYPE_CHECKING:
    from selfheal.adapters.file_cursor import CursorReader
    from selfheal.services.ingest import IngestReport, IngestService

def follow_chunks(reader: CursorReader, stop: threading.Event, interval: float = 0.5) -> Iterator[list[str]]:
    """Yield the complete lines appended after ``reader``'s cursor whenever there are some,
    until ``stop`` is set; the cursor is saved when the consumer asks for the next chunk (so
    only after it has stored the lines). A partial last line waits for its newline."""
    while not stop.is_set():
        try:
            lines, end = reader.complete_lines()
        except FileNotFoundError:  # being rotated: wait for the new file
            lines, end = [], reader.offset
        if not lines:
            stop.wait(interval)
            continue
        yield lines
        reader.commit(end)


def _progress_lines(lines: Iterator[str], advance: Callable[[int], None]) -> Iterator[str]:
    done = 0
    for n, line in enumerate(lines, 1):
        done += len(line) + 1
        if n % 2000 == 0:
            advance(done)
            done = 0
        yield line
    advance(done)


def _ingest_file(service: IngestService, reader: CursorReader, source: str,
                 show_progress: bool) -> IngestReport:
    """Ingest what is new in the file, then move its cursor past it."""
    if not show_progress:
        report = service.ingest_lines(reader.lines(), source)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        total = reader.path.stat().st_size - reader.start
        with Progress(TextColumn("ingesting {task.description}"), BarColumn(), DownloadColumn(),
                      TimeRemainingColumn(), console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(reader.path.name, total=total)
            lines = _progress_lines(reader.lines(), lambda n: progress.advance(task, n))
            report = service.ingest_lines(lines, source)
    reader.commit()
    return report


def _print_report(report: IngestReport, source: str, as_json: bool,
                  read: dict[str, Any] | None = None, list_new: bool = True) -> None:
    if as_json:
        echo_json({"source": source, **report.as_dict(), **(read or {})})
        return
    if read and read["read_from"]:
        click.echo(f"read {source} from byte {read['read_from']} (where the last read stopped; "
                   "--from-start reads it all)")
    elif read and read["rotated"]:
        click.echo(f"{source} was rotated or truncated since the last read: read from its start")
    print_table(f"ingested {source}", ["tracebacks", "distinct errors", "new", "regressed", "ignored",
                                       "duplicates", "fixes to start"],
                [[report.tracebacks, report.distinct, len(report.new), len(report.regressed),
                  len(report.ignored), report.duplicates, len(report.to_fix)]])
    if not list_new:  # --follow said each one as it came
        return
    for fp in report.new:
        click.echo(f"new error {fp[:12]}")
    for fp in report.regressed:
        click.echo(f"regressed {fp[:12]}")


@click.command()
@click.argument("file", default="-", type=UserPath(allow_dash=True, path_type=str))
@click.option("--follow", "-f", is_flag=True, help="keep reading what is appended until interrupted")
@click.option("--source", default=None,
              help="source name recorded on the errors (default: the file's absolute path; stdin: 'stdin')")
@home_option
@click.option("--repo", type=UserPath(path_type=Path), default=None,
              help="repository whose pyproject.toml [tool.selfheal] configures in-app paths and policy "
                   "(its store is used)")
@json_option
@click.option("--from-start", is_flag=True,
              help="read FILE from its beginning, not from where the last ingest or watch of it stopped")
@click.option("--interval", type=float, default=0.5, show_default=True, hidden=True,
              help="seconds between polls with --follow")
def ingest(file: str, follow: bool, source: str | None, home: Path | None, repo: Path | None,
           as_json: bool, from_start: bool, interval: float) -> None:
    """Find Python tracebacks in FILE (or standard input) and record them as errors.

    \b
    Example:
      selfheal ingest /var/log/orders/app.log --repo ~/src/orders
      selfheal ingest app.log --follow      # until Ctrl-C or SIGTERM
    """
    from selfheal.adapters.file_cursor import CursorReader
    from selfheal.compose.store import build_cursor_store, build_ingest_service

    settings = cli_settings(home, repo)
    store = local_store(settings)
    service = build_ingest_service(settings, store)
    # A file is recorded by its absolute path: `errors show` says where an error came from
    # whatever folder ingest ran in.
    name = source or ("stdin" if file == "-" else str(Path(file).resolve()))
    if file == "-":
        if follow:
            raise click.BadParameter("--follow needs a file, not standard input", param_hint="FILE")
        if sys.stdin.isatty():  # `selfheal ingest` typed bare would otherwise wait in silence
            click.echo("reading a log from standard input until Ctrl-D (or give a file: selfheal ingest "
                       "FILE)", err=True)
        # The bytes, decoded here: sys.stdin is strict under a UTF-8 locale, and one invalid byte
        # in a log must not lose the whole input.
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
        report = service.ingest_lines((line.rstrip("\r\n") for line in stdin), name)
        _print_report(report, name, as_json)
        return
    path = Path(file)
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is a folder, not a file"
        raise click.BadParameter(f"{path} {what}; give the path of a log file", param_hint="FILE")
    reader = CursorReader(path, build_cursor_store(settings), from_start=from_start)
    read = {"read_from": reader.start, "rotated": reader.rotated}
    if follow:
        _follow(service, reader, name, as_json, interval, read)
        return
    report = _ingest_file(service, reader, name, show_progress=not as_json and sys.stderr.isatty())
    _print_report(report, name, as_json, read)


def _follow(service: IngestService, reader: CursorReader, source: str, as_json: bool, interval: float,
            read: dict[str, Any]) -> None:
    from selfheal.services.ingest import IngestReport

    total = IngestReport()
    stop = threading.Event()
    click.echo(f"following {reader.path} from byte {reader.start} (Ctrl-C to stop)", err=True)
    with stop_on_signals(lambda _signum: stop.set()):
        for chunk in follow_chunks(reader, stop, interval):
            report = service.ingest_lines(chunk, source)
            total.merge(report)
            if report.tracebacks:
                _echo_progress(report, total, as_json)
    _print_report(total, source, as_json, read, list_new=False)


def _echo_progress(report: IngestReport, total: IngestReport, as_json: bool) -> None:
    stamp = time.strftime("%H:%M:%S")
    line = (f"{stamp} +{report.tracebacks} tracebacks, {len(report.new)} new, "
            f"{len(report.regressed)} regressed (total {total.tracebacks})")
    click.echo(line, err=as_json)
    if not as_json:
        for fp in report.new:
            click.echo(f"new error {fp[:12]}")

