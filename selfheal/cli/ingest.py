"""``selfheal ingest [FILE|-] [--follow]``: fill the local error store from a log.

Reads the log (a file, or standard input for ``-``), finds every Python traceback, groups them
by fingerprint and merges them into ``<home>/errors.db``: one write per distinct error, counts
added, so ingesting the same log twice doubles the counts and adds no error. ``--follow`` keeps
reading what is appended (like ``tail -f``) until interrupted; a file that shrinks (rotated or
truncated) is read again from its start.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from selfheal.cli.output import echo_json, print_table

if TYPE_CHECKING:
    from selfheal.services.ingest import IngestReport, IngestService

HOME_HELP = "selfheal home directory (default: SELFHEAL_HOME or .selfheal)"


def follow_chunks(path: Path, stop: threading.Event, interval: float = 0.5,
                  from_start: bool = True) -> Iterator[list[str]]:
    """Yield the lines appended to ``path`` whenever the writer pauses, until ``stop`` is set.

    A chunk ends when no more data arrives for ``interval`` seconds (a writer flushes a whole
    traceback at once, so tracebacks are not split); a partial last line waits for its newline.
    """
    position = 0 if from_start else path.stat().st_size
    partial = ""
    while not stop.is_set():
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # being rotated: wait for the new file
            stop.wait(interval)
            continue
        if size < position:
            position, partial = 0, ""
        if size == position:
            stop.wait(interval)
            continue
        with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
            fh.seek(position)
            data = fh.read()
            position = fh.tell()
        text = partial + data
        lines = text.splitlines(keepends=True)
        partial = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        if lines:
            yield [line.rstrip("\r\n") for line in lines]


def _progress_lines(fh: IO[str], advance: Callable[[int], None]) -> Iterator[str]:
    done = 0
    for n, line in enumerate(fh, 1):
        done += len(line)
        if n % 2000 == 0:
            advance(done)
            done = 0
        yield line.rstrip("\r\n")
    advance(done)


def _ingest_file(service: IngestService, path: Path, source: str, show_progress: bool) -> IngestReport:
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        if not show_progress:
            return service.ingest_lines((line.rstrip("\r\n") for line in fh), source)
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        total = path.stat().st_size
        with Progress(TextColumn("ingesting {task.description}"), BarColumn(), DownloadColumn(),
                      TimeRemainingColumn(), console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(path.name, total=total)
            lines = _progress_lines(fh, lambda n: progress.advance(task, n))
            return service.ingest_lines(lines, source)


def _print_report(report: IngestReport, source: str, as_json: bool) -> None:
    if as_json:
        echo_json({"source": source, **report.as_dict()})
        return
    print_table(f"ingested {source}", ["tracebacks", "distinct errors", "new", "regressed", "ignored",
                                       "duplicates", "fixes to start"],
                [[report.tracebacks, report.distinct, len(report.new), len(report.regressed),
                  len(report.ignored), report.duplicates, len(report.to_fix)]])
    for fp in report.new:
        click.echo(f"new error {fp[:12]}")
    for fp in report.regressed:
        click.echo(f"regressed {fp[:12]}")


@click.command()
@click.argument("file", default="-", type=click.Path(allow_dash=True, dir_okay=False, path_type=str))
@click.option("--follow", "-f", is_flag=True, help="keep reading what is appended until interrupted")
@click.option("--source", default=None, help="source name recorded on the errors (default: the file)")
@click.option("--home", type=click.Path(path_type=Path), default=None, help=HOME_HELP)
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="repository whose pyproject.toml [tool.selfheal] configures in-app paths and policy")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--interval", type=float, default=0.5, show_default=True, hidden=True,
              help="seconds between polls with --follow")
def ingest(file: str, follow: bool, source: str | None, home: Path | None, repo: Path | None,
           as_json: bool, interval: float) -> None:
    """Find Python tracebacks in FILE (or standard input) and record them as errors."""
    from selfheal.compose.store import build_ingest_service, build_local_store
    from selfheal.settings import load_settings

    settings = load_settings({"home": home, "repo": repo})
    store = build_local_store(settings)
    service = build_ingest_service(settings, store)
    name = source or ("stdin" if file == "-" else file)
    if follow:
        if file == "-":
            raise click.BadParameter("--follow needs a file, not standard input", param_hint="FILE")
        _follow(service, Path(file), name, as_json, interval)
        return
    if file == "-":
        # The bytes, decoded here: sys.stdin is strict under a UTF-8 locale, and one invalid byte
        # in a log must not lose the whole input.
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
        report = service.ingest_lines((line.rstrip("\r\n") for line in stdin), name)
    else:
        report = _ingest_file(service, Path(file), name, show_progress=not as_json and sys.stderr.isatty())
    _print_report(report, name, as_json)


def _follow(service: IngestService, path: Path, source: str, as_json: bool, interval: float) -> None:
    from selfheal.services.ingest import IngestReport

    if not path.is_file():
        raise click.BadParameter(f"{path} is not a file", param_hint="FILE")
    total = IngestReport()
    stop = threading.Event()
    click.echo(f"following {path} (Ctrl-C to stop)", err=True)
    try:
        for chunk in follow_chunks(path, stop, interval):
            report = service.ingest_lines(chunk, source)
            total.merge(report)
            if report.tracebacks:
                _echo_progress(report, total, as_json)
    except KeyboardInterrupt:
        stop.set()
    _print_report(total, source, as_json)


def _echo_progress(report: IngestReport, total: IngestReport, as_json: bool) -> None:
    stamp = time.strftime("%H:%M:%S")
    line = (f"{stamp} +{report.tracebacks} tracebacks, {len(report.new)} new, "
            f"{len(report.regressed)} regressed (total {total.tracebacks})")
    click.echo(line, err=as_json)
    if not as_json:
        for fp in report.new:
            click.echo(f"new error {fp[:12]}")

