"""``selfheal parse [FILE|-] [--json]``: list the tracebacks found in a log file or stdin.

Imports stay light (no boto3, no pydantic-heavy services): the benchmark scorer runs this command
once per sample. Input is read as bytes and decoded with ``errors="replace"`` so binary garbage
or invalid UTF-8 never stops the scan.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click

from selfheal.domain.extract import extract_tracebacks
from selfheal.domain.fingerprint import fingerprint_ids
from selfheal.domain.traceback import Traceback


def _open_lines(path: str) -> tuple[Iterator[str], BinaryIO | None]:
    if path == "-":
        stream: BinaryIO = sys.stdin.buffer
        handle = None
    else:
        try:
            stream = Path(path).open("rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from exc
        handle = stream
    # newline="" keeps "\r" inside lines: the extractor treats it as the Lambda runtime's separator.
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    return iter(text), handle


def _summary_rows(items: list[tuple[Traceback, str]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for tb, fp in items:
        final = tb.final
        first = (final.message or "").strip().splitlines()
        message = first[0] if first else ""
        if len(message) > 80:
            message = message[:77] + "..."
        where = "-"
        if final.frames:
            last = final.frames[-1]
            where = f"{last.file}:{last.line}" if last.line is not None else last.file
        flags = []
        if len(tb.chain) > 1:
            flags.append(f"chain={len(tb.chain)}")
        if final.is_group:
            flags.append(f"group={len(final.exceptions) + final.more_exceptions}")
        if tb.truncated:
            flags.append("truncated")
        rows.append(
            [tb.first_line, final.type or "?", message, where, len(final.frames), fp[:12], " ".join(flags)]
        )
    return rows


@click.command("parse")
@click.argument("file", default="-", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for machines.")
def parse(file: str, as_json: bool) -> None:
    """Find Python tracebacks in FILE (or standard input, '-') and show each with its fingerprint."""
    lines, handle = _open_lines(file)
    try:
        items = [(tb, fingerprint_ids(tb)[0]) for tb in extract_tracebacks(lines)]
    finally:
        if handle is not None:
            handle.close()
    if as_json:
        doc = {"tracebacks": [{**tb.to_dict(), "fingerprint": fp} for tb, fp in items]}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False))
        sys.stdout.write("\n")
        return
    from selfheal.cli.output import print_table

    rows = _summary_rows(items)
    title = f"{len(items)} traceback(s) in {'stdin' if file == '-' else file}"
    print_table(title, ["line", "type", "message", "raised at", "frames", "fingerprint", "notes"], rows)
