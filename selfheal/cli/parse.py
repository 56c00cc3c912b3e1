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
from selfheal.domain.fingerprint import fingerprint_ids, is_in_app, relative_path
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


def _location(tb: Traceback) -> str:
    """The innermost application frame (else the innermost frame) as ``path:line function``."""
    frames = tb.final.frames
    chosen = next((f for f in reversed(frames) if is_in_app(f.file)), frames[-1] if frames else None)
    if chosen is None:
        return "-"
    where = relative_path(chosen.file)
    if chosen.line is not None:
        where += f":{chosen.line}"
    return f"{where} {chosen.function}" if chosen.function else where


def _summary_rows(items: list[tuple[Traceback, str]]) -> list[list[Any]]:
    """One row per distinct error (fingerprint), in order of first appearance."""
    groups: dict[str, list[Traceback]] = {}
    for tb, fp in items:
        groups.setdefault(fp, []).append(tb)
    rows: list[list[Any]] = []
    for fp, tbs in groups.items():
        tb = tbs[0]
        final = tb.final
        first = (final.message or "").strip().splitlines()
        message = first[0] if first else ""
        if len(message) > 60:
            message = message[:57] + "..."
        notes = []
        if len(tb.chain) > 1:
            notes.append(f"chain of {len(tb.chain)}")
        if final.is_group:
            notes.append(f"group of {len(final.exceptions) + final.more_exceptions}")
        if any(t.truncated for t in tbs):
            notes.append("truncated")
        lines = ", ".join(str(t.first_line) for t in tbs[:5]) + (", ..." if len(tbs) > 5 else "")
        exc_type = (final.type or "?").rsplit(".", 1)[-1]
        rows.append([fp[:12], len(tbs), exc_type, message, _location(tb), lines, "; ".join(notes)])
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
    source = "stdin" if file == "-" else file
    title = f"{len(items)} traceback(s), {len(rows)} distinct error(s) in {source}"
    print_table(title, ["error", "seen", "type", "message", "raised at", "lines", "notes"], rows)


if __name__ == "__main__":  # `python -m selfheal.cli.parse` (used by the corpus scorer test)
    parse()
