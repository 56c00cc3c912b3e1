"""Prompt building: a ``FixContext`` rendered through the template files in ``selfheal/templates``.

Everything that comes from logs, test output or the repository sits between
``=== BEGIN NAME [tag] ===`` / ``=== END NAME [tag] ===`` lines. The tag is a hash of all that data,
so text inside it cannot forge a closing delimiter without finding a hash preimage, and the same
context always renders the same prompt (snapshot tests rely on it). The system prompt tells the
model that delimited text is data, never instructions; the edit parser is the real guard.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from selfheal.domain.context import estimate_tokens, map_frame_path
from selfheal.domain.fixing import CodeSection, FixContext, Prompt
from selfheal.domain.redact import Redactor
from selfheal.settings import Settings

FEEDBACK_MAX_CHARS = 4000
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@lru_cache(maxsize=8)
def load_template(name: str) -> str:
    """The text of ``selfheal/templates/<name>``."""
    return resources.files("selfheal").joinpath("templates", name).read_text(encoding="utf-8")


def render(template: str, values: dict[str, str]) -> str:
    """Replace ``{{name}}`` placeholders in one pass (inserted values are never re-scanned)."""
    def sub(m: re.Match[str]) -> str:
        return values[m.group(1)]

    return _PLACEHOLDER.sub(sub, template)


def _data_tag(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:12]


def _error_block(context: FixContext) -> str:
    lines = [f"Type: {context.exc_type}", f"Message: {context.message}", "In-app frames, outermost first:"]
    for f in context.frames:
        src = f"  |  {f.source.strip()}" if f.source else ""
        lines.append(f"  {f.file}:{f.line or '?'} in {f.function or '?'}{src}")
    return "\n".join(lines)


def _occurrences_block(context: FixContext) -> str:
    lines = [f"Count: {context.occurrences}"]
    if context.first_seen:
        lines += [f"First seen: {context.first_seen}", f"Last seen: {context.last_seen}"]
    return "\n".join(lines)


def failing_lines(context: FixContext, app_roots: Sequence[str] = ()) -> dict[str, list[int]]:
    """Repository path -> the lines where mapped in-app frames were executing."""
    unmapped = {(f.file, f.line) for f in context.unmapped_frames}
    out: dict[str, list[int]] = {}
    for f in context.frames:
        if f.line is None or (f.file, f.line) in unmapped:
            continue
        path = map_frame_path(f.file, context.offered_files, app_roots).path
        if path is not None and f.line not in out.setdefault(path, []):
            out[path].append(f.line)
    return out


def _block(name: str, tag: str, body: str, label: str = "") -> str:
    return f"=== BEGIN {name} [{tag}]{label} ===\n{body.rstrip(chr(10))}\n=== END {name} [{tag}] ==="


def _code_block(section: CodeSection, tag: str, failing: dict[str, list[int]]) -> str:
    here = [n for n in failing.get(section.path, []) if section.start_line <= n <= section.end_line]
    marks = f"; failing line{'s' if len(here) > 1 else ''} {', '.join(map(str, sorted(here)))}" \
        if here else ""
    label = f" {section.path} lines {section.start_line}-{section.end_line} ({section.kind}{marks})"
    return _block("CODE", tag, section.text, label)


def _cap_feedback(feedback: str) -> str:
    if len(feedback) <= FEEDBACK_MAX_CHARS:
        return feedback
    # The end of test output says what failed; keep it.
    return f"[... {len(feedback) - FEEDBACK_MAX_CHARS} characters cut ...]\n" + feedback[-FEEDBACK_MAX_CHARS:]


def _import_hint(context: FixContext) -> str:
    """How the repository's tests import its code: their own import lines, else dotted paths."""
    if context.test_imports:
        return "\n".join(f"  {line}" for line in context.test_imports[:5])
    modules = []
    for path in context.offered_files[:3]:
        parts = path[:-3].split("/") if path.endswith(".py") else []
        parts = parts[1:] if parts[:1] == ["src"] else parts
        if parts:
            modules.append("  import " + ".".join(p for p in parts if p != "__init__"))
    return "\n".join(modules) or "  (by module name from the repository root)"


def _reproduce_block(context: FixContext, tag: str) -> str:
    """The recorded failing input (replayed to verify the fix), or the request for a regression
    test written like the repository's own tests."""
    if context.recorded_inputs and context.regression_test:
        events = "\n".join(context.recorded_inputs[:3])
        return (f"\nRecorded failing input: the event(s) of the invocation(s) that crashed (redacted). "
                f"The fix is verified by replaying them against {context.entry}: after your change it must "
                f"return without raising for each (raising another exception instead is not a fix). "
                f"The replay ships as {context.regression_test_path}; you need not write a test.\n"
                + _block("RECORDED INPUT", tag, events) + "\n")
    test_path = context.new_test_path or f"tests/test_selfheal_{context.fingerprint[:12]}.py"
    text = (f"\nRegression test: no failing input was recorded, so nothing proves a fix yet. Unless you "
            f"abstain, add a regression test as the new file {test_path}: it must fail on the current code "
            f"with {context.exc_type.rsplit('.', 1)[-1]} and pass with your fix, and must not replace or "
            f"patch the code it tests. Tests import the package like this:\n{_import_hint(context)}\n")
    if context.test_pattern:
        text += (f"Write it like the repository's existing test {context.test_pattern_path}:\n"
                 + _block("TEST PATTERN", tag, context.test_pattern, f" {context.test_pattern_path}") + "\n")
    return text


def build_prompt(context: FixContext, attempt: int, feedback: str | None, settings: Settings) -> Prompt:
    """Render the system and user prompt for ``attempt`` (1-based), with the previous attempt's
    ``feedback`` (already-redacted context; the feedback is redacted here)."""
    fb = _cap_feedback(Redactor(settings.redact_patterns).redact(feedback)) if feedback else ""
    unmapped = "\n".join(f"  {f.file}:{f.line or '?'} in {f.function or '?'}"
                         for f in context.unmapped_frames)
    tag = _data_tag(context.message, context.trace, unmapped, fb, _error_block(context),
                    *(s.text for s in context.sections), *context.recorded_inputs,
                    *([context.test_pattern] if context.test_pattern else []))
    failing = failing_lines(context, settings.app_roots)
    values = {
        "attempt": str(attempt),
        "max_attempts": str(max(settings.max_attempts, attempt)),
        "tag": tag,
        "error": _error_block(context),
        "occurrences": _occurrences_block(context),
        "trace": context.trace.rstrip("\n") or "(no trace recorded)",
        "revision": context.revision or "unknown",
        "offered_files": "\n".join(f"- {p}" for p in context.offered_files) or "- (none)",
        "unmapped": ("\nFrames that match no repository file (not editable):\n"
                     + _block("UNMAPPED FRAMES", tag, unmapped) + "\n" if unmapped else ""),
        "code": "\n\n".join(_code_block(s, tag, failing) for s in context.sections)
        or "(no source available)",
        "reproduce": _reproduce_block(context, tag),
        "feedback": ("\nThe previous attempt was rejected. Its feedback follows; propose a different fix.\n"
                     + _block("PREVIOUS ATTEMPT FEEDBACK", tag, fb) + "\n" if fb else ""),
    }
    user = render(load_template("prompt_user.txt"), values)
    return Prompt(system=load_template("prompt_system.txt"), user=user,
                  attempt=attempt, feedback=fb or None, context=context,
                  max_output_tokens=settings.max_output_tokens)


def prompt_tokens(prompt: Prompt) -> int:
    """Estimated input tokens of ``prompt`` (system + user)."""
    return estimate_tokens(prompt.system) + estimate_tokens(prompt.user)
