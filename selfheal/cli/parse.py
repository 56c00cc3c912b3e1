"""``selfheal parse [FILE|-] [--json]``: list the tracebacks found in a log file or stdin.

Imports stay light (no boto3, no services): the benchmark scorer runs this command once per
sample. Fingerprints use the same settings as ``ingest`` (``--repo``, ``SELFHEAL_*`` variables,
``[tool.selfheal]``), so both name an error alike. Input is read as bytes and decoded with
``errors="replace"`` so binary garbage or invalid UTF-8 never stops the scan.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from json.encoder import encode_basestring as _str  # the string encoder of json.dumps(ensure_ascii=False)
from pathlib import Path
from typing import Any, BinaryIO

import click

from selfheal.cli.common import json_option
from selfheal.domain.extract.stream import extract_from_stream
from selfheal.domain.fingerprint import FingerprintConfig, fingerprint_id, is_in_app, relative_path
from selfheal.domain.traceback import Link, Traceback


def _open(path: str) -> tuple[BinaryIO, BinaryIO | None]:
    """The input as bytes (``extract_from_stream`` decodes only the lines it reads), and the
    handle to close."""
    if path == "-":
        return sys.stdin.buffer, None
    try:
        stream = Path(path).open("rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        # a wrong path is a usage mistake (exit 2), said as `selfheal ingest` says it
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}; give the path of a log "
                                 "file", param_hint="FILE") from exc
    return stream, stream


_ENV_PREFIX = "SELFHEAL_"  # selfheal.settings.ENV_PREFIX (a test keeps them equal)


def _fingerprint_config(repo: Path | None) -> FingerprintConfig:
    """The settings ``ingest`` would use (``--repo``, SELFHEAL_* variables, ``[tool.selfheal]``).
    Without a repository or a variable they are the defaults, built without loading the settings
    machinery (pydantic): the scorer starts this command once per sample."""
    import os

    if repo is None and not any(name.startswith(_ENV_PREFIX) for name in os.environ):
        from selfheal.domain.paths import DEFAULT_APP_ROOTS

        return FingerprintConfig(app_roots=DEFAULT_APP_ROOTS)
    from selfheal.compose.store import build_fingerprint_config
    from selfheal.settings import load_settings

    return build_fingerprint_config(load_settings({"repo": repo}))


def _location(tb: Traceback, config: FingerprintConfig) -> str:
    """The innermost application frame (else the innermost frame) as ``path:line function``."""
    frames = tb.final.frames
    chosen = next((f for f in reversed(frames) if is_in_app(f.file, config)), frames[-1] if frames else None)
    if chosen is None:
        return "-"
    where = relative_path(chosen.file, config)
    if chosen.line is not None:
        where += f":{chosen.line}"
    return f"{where} {chosen.function}" if chosen.function else where


class _Group:
    """One distinct error while scanning: the first traceback, a count, a few line numbers."""

    __slots__ = ("first", "count", "lines", "truncated")

    def __init__(self, tb: Traceback) -> None:
        self.first = tb
        self.count = 0
        self.lines: list[int] = []
        self.truncated = False

    def add(self, tb: Traceback) -> None:
        self.count += 1
        if len(self.lines) < 5:
            self.lines.append(tb.first_line)
        self.truncated = self.truncated or tb.truncated


def _summary_row(fp: str, group: _Group, config: FingerprintConfig) -> list[Any]:
    final = group.first.final
    first = (final.message or "").strip().splitlines()
    message = first[0] if first else ""
    if len(message) > 60:
        message = message[:57] + "..."
    notes = []
    if len(group.first.chain) > 1:
        notes.append(f"chain of {len(group.first.chain)}")
    if final.is_group:
        notes.append(f"group of {len(final.exceptions) + final.more_exceptions}")
    if group.truncated:
        notes.append("truncated")
    lines = ", ".join(map(str, group.lines)) + (", ..." if group.count > len(group.lines) else "")
    exc_type = (final.type or "?").rsplit(".", 1)[-1]
    return [fp[:12], group.count, exc_type, message, _location(group.first, config), lines, "; ".join(notes)]


def _link_json(link: Link) -> str:
    """``encode(link.to_dict())`` written directly (no dicts per frame): a test holds them equal."""
    frames = ", ".join([f'{{"file": {_str(f.file)}, "line": {"null" if f.line is None else f.line}, '
                        f'"function": {"null" if f.function is None else _str(f.function)}}}'
                        for f in link.frames])
    out = (f'{{"type": {"null" if link.type is None else _str(link.type)}, "message": {_str(link.message)}, '
           f'"frames": [{frames}], "link": {"null" if link.link is None else _str(link.link)}')
    if link.is_group:
        subs = ", ".join([_traceback_json(sub) for sub in link.exceptions])
        out += f', "is_group": true, "exceptions": [{subs}]'
    return out + "}"


def _traceback_json(tb: Traceback, fingerprint: str | None = None) -> str:
    """``tb.to_dict()`` (plus ``fingerprint``) as ``json`` encodes it (``ensure_ascii=False``)."""
    chain = ", ".join([_link_json(link) for link in tb.chain])
    tail = "" if fingerprint is None else f', "fingerprint": {_str(fingerprint)}'
    return f'{{"chain": [{chain}]{tail}}}'


def _write_json(found: Iterator[tuple[Traceback, str]]) -> None:
    """Stream ``{"tracebacks": [...]}``: a few hundred tracebacks in memory at a time, whatever
    the log size (written in batches: one write per traceback showed at storm density)."""
    out = sys.stdout
    out.write('{"tracebacks": [')
    batch: list[str] = []
    sep = ""
    for tb, fp in found:
        batch.append(_traceback_json(tb, fp))
        if len(batch) == _BATCH:
            out.write(sep + ", ".join(batch))
            batch, sep = [], ", "
    if batch:
        out.write(sep + ", ".join(batch))
    out.write("]}\n")


_BATCH = 256


@click.command("parse")
@click.argument("file", default="-", required=False)
@json_option
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="repository whose files and [tool.selfheal] settings apply, as for ingest")
def parse(file: str, as_json: bool, repo: Path | None) -> None:
    """Find Python tracebacks in FILE (or standard input, '-') and show each distinct error.

    Nothing is stored (see ``selfheal ingest`` for that).

    \b
    Example:
      selfheal parse /var/log/orders/app.log
    """
    config = _fingerprint_config(repo)
    stream, handle = _open(file)
    try:
        found = ((tb, fingerprint_id(tb, config)) for tb in extract_from_stream(stream))
        if as_json:
            _write_json(found)
            return
        groups: dict[str, _Group] = {}
        total = 0
        for tb, fp in found:
            total += 1
            group = groups.get(fp)
            if group is None:
                group = groups[fp] = _Group(tb)
            group.add(tb)
    finally:
        if handle is not None:
            handle.close()
    from selfheal.cli.output import print_table

    rows = [_summary_row(fp, group, config) for fp, group in groups.items()]
    source = "stdin" if file == "-" else file
    title = f"{total} traceback(s), {len(rows)} distinct error(s) in {source}"
    print_table(title, ["error", "seen", "type", "message", "raised at", "lines", "notes"], rows)


if __name__ == "__main__":  # `python -m selfheal.cli.parse` (used by the corpus scorer test)
    parse()
