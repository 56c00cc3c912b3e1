"""Render a ``ValidationReport``: markdown (PR bodies, PR records), plain text and rich (the CLI).

Test output and gate details can carry text from the model or the project's tests: markdown
output redacts it, fences it (a fence longer than any backtick run inside) and escapes table
cells, so it cannot inject markup into a pull request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selfheal.domain.pr_body import fence, inline
from selfheal.domain.redact import redact
from selfheal.domain.validation_report import CommandRun, TestCounts, ValidationReport

if TYPE_CHECKING:
    from rich.console import Console

OUTPUT_CHARS_MD = 3000


def verdict_line(report: ValidationReport) -> str:
    """One line: valid and verified / valid but unverified / rejected at a gate."""
    if not report.valid:
        return f"REJECTED at gate '{report.failed_gate}'"
    return "VALID and VERIFIED" if report.verified else "VALID but UNVERIFIED (draft only)"


def counts_text(c: TestCounts | None) -> str:
    if c is None:
        return "not run"
    return f"{c.passed} passed, {c.failed} failed, {c.errors} errors, {c.skipped} skipped"


def command_text(c: CommandRun) -> str:
    status = "timed out" if c.timed_out else ("not started" if c.exit_code is None else f"exit {c.exit_code}")
    label = f"{c.label}: " if c.label else ""
    return f"{label}{' '.join(c.argv)}  [{status}, {c.duration_ms} ms]"


def _failed_output(report: ValidationReport) -> str:
    failed = next((g for g in report.gates if not g.passed), None)
    tail = failed.evidence.get("output_tail") if failed is not None else None
    return tail if isinstance(tail, str) else ""


def render_markdown(report: ValidationReport, redact_patterns: tuple[str, ...] = ()) -> str:
    """The report as GitHub-flavoured markdown."""
    icon = "❌" if not report.valid else ("✅" if report.verified else "⚠️")
    out = [f"**Validation: {icon} {verdict_line(report)}** ({report.duration_ms / 1000:.1f} s)", "",
           "| Gate | Result | Detail | ms |", "|---|---|---|---|"]
    for g in report.gates:
        out.append(f"| {g.gate} | {'pass' if g.passed else '**FAIL**'} | "
                   f"{inline(redact(g.detail, redact_patterns), 240)} | {g.duration_ms} |")
    out += ["", f"- Tests before the patch: {counts_text(report.tests_before)}",
            f"- Tests after the patch: {counts_text(report.tests_after)}"]
    for label, items in (("Fixed by the patch", report.newly_passing),
                         ("Newly failing", report.newly_failing),
                         ("Ran before, missing after", report.missing_tests)):
        if items:
            shown = ", ".join(f"`{inline(t, 120)}`" for t in items[:20])
            more = f" and {len(items) - 20} more" if len(items) > 20 else ""
            out.append(f"- {label}: {shown}{more}")
    if report.commands:
        out += ["", "| Command | Exit | Time |", "|---|---|---|"]
        for c in report.commands[:12]:
            status = "timed out" if c.timed_out else str(c.exit_code)
            argv = inline(' '.join(c.argv), 160).replace('`', '')
            label = f"{inline(c.label, 80)}: " if c.label else ""
            out.append(f"| {label}`{argv}` | {status} | {c.duration_ms} ms |")
    for note in report.sandbox_notes:
        out.append(f"- Sandbox: {inline(note, 200)}")
    output = _failed_output(report)
    if output.strip():
        text = redact(output[-OUTPUT_CHARS_MD:], redact_patterns)
        out += ["", "<details><summary>Output of the failing check</summary>", "", fence(text, "text"), "",
                "</details>"]
    return "\n".join(out) + "\n"


def _detail_lines(report: ValidationReport) -> list[tuple[bool, str]]:
    """The lines after the gates in the text and rich renderers, as (dim, text): test counts, the
    tests the patch changed, the commands run and the sandbox notes."""
    lines = [(False, f"tests before: {counts_text(report.tests_before)}"),
             (False, f"tests after:  {counts_text(report.tests_after)}")]
    for label, items in (("fixed", report.newly_passing), ("newly failing", report.newly_failing),
                         ("missing after", report.missing_tests)):
        if items:
            lines.append((False, f"{label}: {', '.join(items[:20])}"))
    lines += [(True, f"$ {command_text(c)}") for c in report.commands]
    lines += [(True, f"note: {note}") for note in report.sandbox_notes]
    return lines


def render_text(report: ValidationReport) -> str:
    """The report as plain text (logs, terminals without colour)."""
    out = [f"Validation: {verdict_line(report)} ({report.duration_ms / 1000:.1f} s)"]
    for g in report.gates:
        out.append(f"  [{'pass' if g.passed else 'FAIL'}] {g.gate:<17} {g.detail}")
    out += [f"  {text}" for _, text in _detail_lines(report)]
    if report.feedback:
        out += ["", "Feedback for the next attempt:", report.feedback]
    return "\n".join(out) + "\n"


def print_report(report: ValidationReport, console: Console | None = None) -> None:
    """Print the report with rich: a verdict line, a gate table, counts and commands."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    style = "red" if not report.valid else ("green" if report.verified else "yellow")
    console.print(f"[bold {style}]{escape(verdict_line(report))}[/] in {report.duration_ms / 1000:.1f} s")
    table = Table(show_lines=False, header_style="bold")
    for col in ("gate", "result", "detail", "ms"):
        table.add_column(col, overflow="fold")
    for g in report.gates:
        result = "[green]pass[/]" if g.passed else "[red bold]FAIL[/]"
        table.add_row(g.gate, result, escape(g.detail), str(g.duration_ms))
    console.print(table)
    for dim, text in _detail_lines(report):
        console.print(f"[dim]{escape(text)}[/]" if dim else escape(text))
    if report.feedback:
        console.print("\n[bold]Feedback for the next attempt:[/]")
        console.print(escape(report.feedback))
