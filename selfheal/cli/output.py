"""Shared output helpers: readable tables for people, JSON for machines (``--json``)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    return str(obj)


def echo_json(obj: Any) -> None:
    """Print one JSON document on standard output."""
    click.echo(json.dumps(obj, default=_default, ensure_ascii=False, indent=2))


def escape_markup(text: object) -> str:
    """``text`` as literal rich text: log lines and model output may hold ``[link=...]`` or
    ``[bold red]``, which must print as written, never as markup."""
    from rich.markup import escape

    return escape(str(text))


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table with rich (imported lazily: it costs startup time); every cell and the title
    are literal text (``escape_markup``)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=None if title is None else escape_markup(title), show_lines=False,
                  header_style="bold")
    for i, col in enumerate(columns):
        # The first column is an id people copy: never wrap it.
        table.add_column(col, overflow="fold", no_wrap=i == 0)
    for row in rows:
        table.add_row(*("-" if v is None else escape_markup(v) for v in row))
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file or a pager: rich would assume 80 columns and fold every cell.
        console.width = 160
    console.print(table)


def fmt_time(value: datetime | None) -> str:
    """Short UTC timestamp for tables."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"
