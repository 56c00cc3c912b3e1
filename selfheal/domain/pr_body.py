"""The pull request body: the review surface of a fix.

Rendered from ``selfheal/templates/pr_body.md`` (``string.Template`` placeholders). Everything
that came from logs or a model is redacted again here and fenced, so a trace cannot inject
markdown (or close our code fences) into the PR.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from string import Template

from pydantic import BaseModel, Field

from selfheal.domain.records import ErrorRecord
from selfheal.domain.redact import redact
from selfheal.domain.validation_report import TestCounts, ValidationReport

TRACE_EXCERPT_LINES = 40
DIFF_MAX_LINES = 400
UNVERIFIED_BANNER = (
    "> [!WARNING]\n> **UNVERIFIED** - no test that failed before this change passes after it. "
    "The fix applies, parses and keeps the existing tests green, but nothing reproduces the error: "
    "review it with extra care.\n\n")
INVALID_BANNER = "> [!CAUTION]\n> **VALIDATION FAILED** at gate `{gate}` - do not merge as is.\n\n"


class PrBodyInput(BaseModel):
    """Everything the PR body shows. ``original``/``updated``: path -> full text."""

    record: ErrorRecord
    report: ValidationReport | None = None
    root_cause: str = ""
    summary: str = ""
    original: dict[str, str] = Field(default_factory=dict)
    updated: dict[str, str] = Field(default_factory=dict)
    model_id: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    attempt: int | None = None
    execution: str | None = None
    execution_url: str | None = None
    error_url: str | None = None
    redact_patterns: list[str] = Field(default_factory=list)


def load_template() -> str:
    """The packaged PR body template."""
    return resources.files("selfheal").joinpath("templates/pr_body.md").read_text(encoding="utf-8")


def fence(text: str, lang: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def inline(text: str, limit: int = 300) -> str:
    """One line of untrusted text made safe inside a table cell."""
    one = " ".join(text.split())
    if len(one) > limit:
        one = one[: limit - 1] + "…"
    one = one.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return one or "-"


def prose(text: str, limit: int = 4000) -> str:
    """Untrusted multi-line text (a model's explanation) as plain paragraphs: no raw HTML."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("<", "&lt;").replace(">", "&gt;")


def pr_title(record: ErrorRecord, summary: str = "") -> str:
    """``fix(selfheal): <summary or exception at location>`` capped for code hosts."""
    what = " ".join(summary.split()) or f"{record.exc_type} in {record.location}"
    title = f"fix(selfheal): {what}"
    return title if len(title) <= 120 else title[:119] + "…"


def diff_summary(original: dict[str, str], updated: dict[str, str]) -> tuple[list[tuple[str, int, int]], str]:
    """Per-file ``(path, added, removed)`` and the unified diff of every changed file."""
    stats: list[tuple[str, int, int]] = []
    chunks: list[str] = []
    for path in sorted(updated):
        old = original.get(path, "")
        new = updated[path]
        if old == new:
            continue
        lines = list(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                          fromfile=f"a/{path}" if path in original else "/dev/null",
                                          tofile=f"b/{path}"))
        added = sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++"))
        removed = sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))
        stats.append((path, added, removed))
        chunks.append("".join(ln if ln.endswith("\n") else ln + "\n" for ln in lines))
    return stats, "".join(chunks)


def _counts(c: TestCounts | None) -> str:
    if c is None:
        return "not run"
    return f"{c.passed} passed, {c.failed} failed, {c.errors} errors, {c.skipped} skipped"


def _evidence(report: ValidationReport | None) -> str:
    if report is None:
        return "No validation report was recorded for this change."
    verdict = "valid" if report.valid else f"invalid (failed gate: `{report.failed_gate}`)"
    verified = "yes" if report.verified else "**no**"
    out = [f"Verdict: **{verdict}**; reproduced and fixed by a test: {verified}.", "",
           "| Gate | Result | Detail |", "|---|---|---|"]
    for g in report.gates:
        out.append(f"| {g.gate} | {'pass' if g.passed else 'FAIL'} | {inline(g.detail, 200)} |")
    out += ["", f"- Tests before the fix: {_counts(report.tests_before)}",
            f"- Tests after the fix: {_counts(report.tests_after)}"]
    if report.newly_passing:
        out.append("- Now passing: " + ", ".join(f"`{inline(t, 120)}`" for t in report.newly_passing[:20]))
    if report.newly_failing:
        out.append("- Newly failing: " + ", ".join(f"`{inline(t, 120)}`" for t in report.newly_failing[:20]))
    out += _reproductions(report)
    runs = [c for c in report.commands if c.argv]
    if runs:
        out += ["", "Commands run:", ""]
        for c in runs[:10]:
            status = "timed out" if c.timed_out else f"exit {c.exit_code}"
            out.append(f"- `{inline(' '.join(c.argv), 150)}` ({status}, {c.duration_ms} ms)")
    for note in report.sandbox_notes[:5]:
        out.append(f"- Note: {inline(note, 200)}")
    return "\n".join(out)


_KINDS = {"recorded_input": "Replay of the failing input(s) recorded from the log",
          "regression_test": "Regression test"}


def _reproductions(report: ValidationReport) -> list[str]:
    """One line per reproduction: what it is and what it did before and after the fix."""
    gate = next((g for g in report.gates if g.gate == "reproduction"), None)
    checks = gate.evidence.get("checks") if gate is not None else None
    if not isinstance(checks, list):
        return []
    out = []
    for c in checks[:5]:
        if isinstance(c, dict):
            what = _KINDS.get(str(c.get("kind")), "Reproduction")
            target = "" if c.get("kind") == "recorded_input" else f" `{inline(str(c.get('target')), 120)}`"
            out.append(f"- {what}{target}: {inline(str(c.get('detail') or 'inconclusive'), 200)}")
    return out


def _fmt_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _trace_excerpt(trace: str, patterns: Sequence[str]) -> str:
    lines = redact(trace, patterns).rstrip().splitlines()
    if len(lines) > TRACE_EXCERPT_LINES:
        lines = [f"... {len(lines) - TRACE_EXCERPT_LINES} earlier lines omitted ...",
                 *lines[-TRACE_EXCERPT_LINES:]]
    return fence("\n".join(lines) or "(no sample trace recorded)", "text")


def render_pr_body(data: PrBodyInput, template: str | None = None) -> str:
    """The markdown body of the fix's pull request."""
    rec, pats = data.record, data.redact_patterns
    banner = ""
    if data.report is not None and not data.report.valid:
        banner = INVALID_BANNER.format(gate=data.report.failed_gate or "?")
    elif data.report is None or not data.report.verified:
        banner = UNVERIFIED_BANNER
    stats, diff = diff_summary(data.original, data.updated)
    diff_lines = diff.splitlines()
    if len(diff_lines) > DIFF_MAX_LINES:
        diff = "\n".join([*diff_lines[:DIFF_MAX_LINES], f"... {len(diff_lines) - DIFF_MAX_LINES} more lines"])
    changes = "\n".join(["| File | Added | Removed |", "|---|---|---|",
                         *(f"| `{p}` | +{a} | -{r} |" for p, a, r in stats)]) if stats else "No file changes."
    cost = f"{data.tokens_in:,} tokens in, {data.tokens_out:,} tokens out"
    if data.model_id:
        cost += f" with `{inline(data.model_id, 100)}`"
    cost += f"; about ${data.cost_usd:.4f}"
    if data.attempt:
        cost += f" (attempt {data.attempt})"
    links = []
    if data.execution or data.execution_url:
        label = inline(data.execution or "execution", 200)
        links.append(f"- Workflow execution: [{label}]({data.execution_url})" if data.execution_url
                     else f"- Workflow execution: `{label}`")
    links.append(f"- Error record: [{rec.fingerprint[:12]}]({data.error_url})" if data.error_url
                 else f"- Error record: `selfheal errors show {rec.fingerprint[:12]}`")
    if rec.previous_pr_url:
        # A regression: the reviewer should see what the earlier fix did and why it did not hold.
        earlier = inline(rec.previous_pr_url, 300)
        links.append(f"- Regression: this error came back after the fix in {earlier}")
    values = {
        "banner": banner,
        "exc_type": inline(rec.exc_type, 200),
        "message": inline(redact(rec.message, pats)),
        "location": inline(rec.location, 200),
        "occurrences": str(rec.count),
        "first_seen": _fmt_time(rec.first_seen),
        "last_seen": _fmt_time(rec.last_seen),
        "fingerprint": rec.fingerprint,
        "trace": _trace_excerpt(rec.sample_trace, pats),
        "root_cause": prose(redact(data.root_cause, pats)) or "_The model gave no root cause._",
        "summary": prose(redact(data.summary, pats)) or "_No summary._",
        "changes": changes,
        "diff": fence(redact(diff, pats) or "(empty)", "diff"),
        "evidence": _evidence(data.report),
        "cost": cost,
        "links": "\n".join(links),
    }
    return Template(template if template is not None else load_template()).safe_substitute(values)
