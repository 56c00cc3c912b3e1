"""JSON log records that carry tracebacks.

Three shapes are recognised: a record with a whole escaped traceback in some string field
(Powertools ``exception``, python-json-logger ``exc_info``, ``{"error": {"stack": ...}}``), a
record holding one line of a traceback in its line field (Docker's json-file driver: ``log``;
``message``/``msg``/``textPayload`` elsewhere), and a Lambda invoke-response error document
(``errorType``/``errorMessage``/``stackTrace``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from selfheal.domain.extract.lines import HEADER_TEXT

LINE_FIELDS = ("log", "message", "msg", "MESSAGE", "textPayload", "line", "text")


def lambda_stack_lines(obj: dict[str, object]) -> list[str] | None:
    """Render a Lambda invoke-response error document as CPython traceback lines.

    ``stackTrace`` is a list of preformatted frame strings (Python 3.7+ runtimes), of
    ``[file, line, function, source]`` lists (older runtimes), or a whole
    ``traceback.format_exception()`` list (hand-rolled handlers that mimic the format).
    """
    etype = obj.get("errorType")
    stack = obj.get("stackTrace")
    if not isinstance(etype, str) or not isinstance(stack, list):
        return None
    if any(isinstance(entry, str) and HEADER_TEXT in entry for entry in stack[:3]):
        # A whole traceback.format_exception() list: header, frames and exception line.
        return "".join(e for e in stack[:10000] if isinstance(e, str)).splitlines()
    out = [HEADER_TEXT + ":"]
    for entry in stack[:10000]:
        if isinstance(entry, str):
            out.extend(part for part in entry.splitlines() if part.strip())
        elif isinstance(entry, list) and len(entry) >= 3:
            out.append(f'  File "{entry[0]}", line {entry[1]}, in {entry[2]}')
            if len(entry) > 3 and entry[3]:
                out.append(f"    {entry[3]}")
    message = obj.get("errorMessage")
    msg = message if isinstance(message, str) else ("" if message is None else str(message))
    out.append(f"{etype}: {msg}" if msg else etype)
    return out


def _string_values(obj: dict[str, object], depth: int = 0) -> Iterator[str]:
    """String values of a JSON record, one level of nesting deep (``{"error": {"stack": ...}}``);
    a list of strings counts as one value, its items joined as lines."""
    for value in obj.values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict) and depth == 0:
            yield from _string_values(value, 1)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value[:10000]):
            # traceback.format_exception() output logged as a list of strings
            joined = "".join(value[:10000])
            yield joined if joined.count("\n") >= len(value) - 1 else "\n".join(value[:10000])


def json_record(text: str, max_bytes: int) -> tuple[bool, list[str]] | None:
    """``(True, [traceback texts])``, ``(False, [lines of the record])`` or None (not a record)."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser allows
        return None
    if not isinstance(obj, dict):
        return None
    rendered = lambda_stack_lines(obj) if "stackTrace" in obj else None
    inner = obj.get("message")
    if rendered is None and isinstance(inner, dict) and "stackTrace" in inner:
        rendered = lambda_stack_lines(inner)  # Lambda's JSON log format: the error document is the message
    if rendered is not None:
        return True, ["\n".join(rendered)]
    whole = [v[:max_bytes] for v in _string_values(obj) if HEADER_TEXT in v and "\n" in v.strip()]
    if whole:
        return True, whole
    for key in LINE_FIELDS:
        value = obj.get(key)
        if isinstance(value, str):
            return False, value.rstrip("\n").split("\n")
    return None


def lambda_document(raw: str, max_bytes: int) -> list[str] | None:
    """Render an invoke-response document embedded in ``raw`` (after some prefix), if any."""
    start = raw.find("{")
    if start < 0 or len(raw) - start > 4 * max_bytes:
        return None
    try:
        obj, _ = json.JSONDecoder().raw_decode(raw, start)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    return lambda_stack_lines(obj)


PRETTY_MAX_LINES = 4000  # lines of a pretty-printed document held before giving up on it
RECENT_LINES = 8  # size of the ring of recent lines the scanner keeps (a power of two)


def pretty_document_start(raw: str) -> bool:
    """True for the ``"stackTrace": [`` line of a pretty-printed invoke response."""
    return '"stackTrace"' in raw and raw.rstrip().endswith("[")


def lines_after_brace(recent: list[str], lineno: int) -> list[str]:
    """The lines of a pretty-printed document before line ``lineno``, back to its opening brace,
    from the ring ``recent`` (line ``n`` at ``recent[n % RECENT_LINES]``); [] without a brace."""
    out: list[str] = []
    for back in range(1, RECENT_LINES):
        line = recent[(lineno - back) % RECENT_LINES]
        if line.strip().endswith("{"):
            out.reverse()
            return out
        out.append(line)
    return []


def pretty_document(before: list[str], lines: list[str]) -> list[str] | None:
    """The traceback lines of a pretty-printed invoke response (``before`` its ``stackTrace`` key,
    then ``lines`` through the closing brace), or None when it is not one."""
    try:
        obj = json.loads("{\n" + "\n".join(line.rstrip("\r\n") for line in (*before, *lines)))
    except (ValueError, RecursionError):  # nesting deeper than the parser allows
        return None
    return lambda_stack_lines(obj) if isinstance(obj, dict) else None
