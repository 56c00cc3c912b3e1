"""Line-level recognisers shared by the traceback segmenter and the block parser.

Everything here works on one logical line at a time and never on more than ``MAX_LINE`` characters
of it, so a hostile 10 MB line costs one bounded regex match, not a backtracking explosion. The
patterns are anchored and use no nested quantifiers over overlapping classes.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Iterator
from functools import lru_cache

MAX_LINE = 8 * 1024  # characters of a line considered for classification and kept in a block

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
HEADER_TEXT = "Traceback (most recent call last)"

# `  File "path", line 12, in func` (CPython 2.7 and 3.x); loguru marks the catching frame with `>`.
FRAME_RE = re.compile(
    r'^[ \t>]*File "(?P<file>[^"\n]{1,2000})", line (?P<line>\d{1,9}|unknown)'
    r"(?P<in>, in(?: (?P<func>\S[^\n]{0,500}))?)?"
)
# IPython >= 8: `File ~/x.py:150, in func(args)`; `Cell In[5], line 25`; IPython 7: `Input In [3], in f()`.
IPY_FILE_RE = re.compile(r"^File (?P<file>\S[^\n]{0,2000}?):(?P<line>\d{1,9}), in (?P<func>[^\s(]{1,300})")
IPY_CELL_RE = re.compile(r"^(?P<file>Cell In ?\[\d{1,9}\]), line (?P<line>\d{1,9})")
IPY_INPUT_RE = re.compile(r"^(?P<file>Input In ?\[\d{1,9}\]), in (?P<func>[^\n(]{1,300}?)(?:\(.*)?$")
# IPython < 8: `~/x.py in func(self, a)` or `<ipython-input-3-abc> in <module>()`.
IPY_OLD_RE = re.compile(
    r"^(?P<file>(?:<ipython-input-[\w-]{1,80}>|[~/.\\\w][^\s]{0,2000}?\.pyc?|[A-Za-z]:\\\S{0,2000}?\.pyc?))"
    r" in (?P<func><[^>\n]{1,100}>|[\w.<>]{1,300})(?:\(.*)?\s*$"
)
IPY_ARROW_RE = re.compile(r"^-{1,10}> ?(?P<line>\d{1,9})\b")
IPY_HEADER_RE = re.compile(
    r"^(?P<pre>.{0,200}?)(?P<type>[A-Za-z_][\w.]{0,200})[ \t]{2,}Traceback \(most recent call last\)\s*$"
)
# Django's technical 500 page as text: `File "path" in func` then `  111. source`.
DJANGO_FRAME_RE = re.compile(r'^\s*File "(?P<file>[^"\n]{1,2000})" in (?P<func>[^\s(]{1,300})\s*$')
DJANGO_LINE_RE = re.compile(r"^\s*(?P<line>\d{1,9})\.(?:\s(?P<src>.*))?$")
# Colour codes whose ESC byte was lost in a copy/paste (`[0;31mValueError[0m`).
ORPHAN_ANSI_RE = re.compile(r"\[(?:\d{1,3}(?:;\d{1,3}){0,4})?m")
REPEAT_RE = re.compile(r"^\s*\[Previous line repeated (?P<n>\d{1,12}) more times?\]")
CAUSE_TEXT = "The above exception was the direct cause of the following exception"
CONTEXT_TEXT = "During handling of the above exception, another exception occurred"
EXC_RE = re.compile(
    r"^(?P<type>[A-Za-z_][A-Za-z0-9_]{0,200}(?:\.[A-Za-z_][A-Za-z0-9_]{0,200}){0,30})"
    r"(?P<rest>:.*)?$",
    re.DOTALL,
)
LAMBDA_ERROR_RE = re.compile(r"^\[ERROR\] (?P<type>[A-Za-z_][\w.]{0,200}): ?(?P<msg>.*)$")
LEGACY_LAMBDA_RE = re.compile(r"^(?P<msg>.*): (?P<type>[A-Za-z_][\w.]{0,200}(?:Error|Exception|Exit))$")
DJANGO_TYPE_RE = re.compile(r"^Exception Type: (?P<type>[A-Za-z_][\w.]{0,200})(?: at .*)?$")
DJANGO_VALUE_RE = re.compile(r"^Exception Value: ?(?P<msg>.*)$")
# The start of a new log record: ends a multi-line exception message.
LOG_START_RE = re.compile(
    r"^(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\[?\d{2}:\d{2}:\d{2}|\[?(?:DEBUG|INFO|WARNING|WARN|ERROR|"
    r"CRITICAL|FATAL|TRACE|NOTICE)\b|(?:START|END|REPORT|INIT_START) RequestId:"
    r"|\d{1,3}(?:\.\d{1,3}){3}\b|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}|\[\d{2}/[A-Z][a-z]{2}/\d{4}"
    r"|>>> |In \[\d+\]:|Out\[\d+\]:|\$ )"
)
# Elided frames: `...`, IPython's `[... skipping similar frames: f at line 3 (12 times)]`.
ELLIPSIS_RE = re.compile(r"^\s*(?:\.\.\.|…)\s*$|^\s*\[\.\.\. skipping ")
_EXC_SUFFIXES = ("Error", "Exception", "Exit", "Interrupt", "Warning", "Iteration", "Group", "Fault")
_NOT_TYPES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"print", "pass"}


def clean(line: str) -> str:
    """Strip the line terminator, ANSI colours and no-break-space indentation; cap the length."""
    if len(line) > MAX_LINE:
        line = line[:MAX_LINE]
    line = line.rstrip("\r\n")
    if "\x1b" in line:
        line = ANSI_RE.sub("", line)
    if "[0m" in line or "[0;" in line or "[1;" in line:
        line = ORPHAN_ANSI_RE.sub("", line)
    if "\xa0" in line:
        line = line.replace("\xa0", " ")
    if "\x00" in line:
        line = line.replace("\x00", "")
    return line


def separator_kind(content: str) -> str | None:
    """``"cause"``/``"context"`` when the line is a chained-exception separator."""
    if CONTEXT_TEXT in content:
        return "context"
    if CAUSE_TEXT in content:
        return "cause"
    return None


def looks_like_exception(content: str, *, strict: bool) -> re.Match[str] | None:
    """Match an exception line ``Type: message`` (or a bare ``Type``).

    ``strict`` is used where the line could also be a source line that lost its indentation:
    then a bare word must look like an exception class name (``...Error``, ``...Exception``).
    """
    if not content or content[0] in " \t":
        return None
    m = EXC_RE.match(content)
    if m is None:
        return None
    name = m.group("type")
    if name in _NOT_TYPES:
        return None
    rest = m.group("rest")
    if rest is not None and len(rest) > 1 and rest[1] not in " \t":
        # `a:b` is not an exception line (e.g. `http://...` or `key:value`), `Error: x` is.
        return None
    if strict:
        last = name.rsplit(".", 1)[-1]
        if rest is None and not last.endswith(_EXC_SUFFIXES):
            return None
        if not (last[:1].isupper() or "." in name):
            return None
    return m


def exception_name_like(name: str) -> bool:
    """True when ``name`` reads like an exception class (``KeyError``, ``pkg.mod.Failure``)."""
    last = name.rsplit(".", 1)[-1]
    return last.endswith(_EXC_SUFFIXES) or ("." in name and last[:1].isupper())


def is_frame_start(content: str) -> bool:
    """True for any frame line style (CPython or IPython)."""
    return bool(
        FRAME_RE.match(content)
        or IPY_FILE_RE.match(content)
        or IPY_CELL_RE.match(content)
        or IPY_INPUT_RE.match(content)
        or IPY_OLD_RE.match(content)
    )


def split_logical(line: str) -> list[str]:
    """Split one physical line on the ``\\r`` separators the Lambda runtime uses inside one event."""
    body = line.rstrip("\r\n")
    if "\r" in body:
        return body.split("\r")
    return [body]


_MAX_STRING_LOOKBACK = 64 * 1024  # how far before the header the opening quote may be
_MAX_ESCAPED_PER_LINE = 64


def _string_start(line: str, idx: int) -> int:
    """Index of the unescaped double quote opening the JSON string that contains ``idx``, or -1."""
    pos = idx
    floor = max(0, idx - _MAX_STRING_LOOKBACK)
    while True:
        q = line.rfind('"', floor, pos)
        if q < 0:
            return -1
        backslashes = 0
        k = q - 1
        while k >= 0 and line[k] == "\\":
            backslashes += 1
            k -= 1
        if backslashes % 2 == 0:
            return q
        pos = q


def json_escaped_texts(line: str, limit: int) -> Iterator[str]:
    """Yield the decoded JSON string values of ``line`` that hold an escaped traceback.

    Works whether or not the whole line is valid JSON (pretty-printed documents put one field per
    line). Each decoded value is capped at ``limit`` characters.
    """
    start = 0
    for _ in range(_MAX_ESCAPED_PER_LINE):
        idx = line.find(HEADER_TEXT + ":\\n", start)
        if idx < 0:
            idx = line.find(HEADER_TEXT + ":\\r\\n", start)
        if idx < 0:
            return
        q = _string_start(line, idx)
        if q < 0:
            # Not a JSON string: a Python repr ('...\\n...') or bare escaped text.
            value, end = _repr_text(line, idx, limit)
            yield value
            start = max(end, idx + 1)
            continue
        try:
            value, end = json.decoder.scanstring(line, q + 1)  # type: ignore[attr-defined]
        except (ValueError, IndexError):
            # Unterminated or cut string: decode what we have, best effort.
            raw = line[q + 1 : q + 1 + limit]
            try:
                value = json.loads('"' + raw.rstrip("\\") + '"')
            except ValueError:
                value = raw.replace("\\n", "\n").replace('\\"', '"')
            end = len(line)
        yield value[:limit]
        start = max(end, idx + 1)


def _unescape(text: str) -> str:
    return (
        text.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\t", "\t")
        .replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\")
    )


def _repr_text(line: str, idx: int, limit: int) -> tuple[str, int]:
    """The escaped text around ``idx`` when it is not in a JSON string; ``(text, end index)``."""
    quote = line.rfind("'", max(0, idx - _MAX_STRING_LOOKBACK), idx)
    if quote >= 0:
        end = idx
        while True:
            end = line.find("'", end)
            if end < 0 or line[end - 1] != "\\":
                break
            end += 1
        stop = len(line) if end < 0 else end
        return _unescape(line[quote + 1 : min(stop, quote + 1 + limit)]), stop
    return _unescape(line[idx : idx + limit]), len(line)


_PREFIX_TOKEN_RE = re.compile(r"\w*\d\w*")


@lru_cache(maxsize=256)  # a stamp without numbers (`svc_1 | `) recurs on every traceback
def prefix_pattern(prefix: str) -> re.Pattern[str] | None:
    """A regex that matches ``prefix`` and lines prefixed the same way with other numbers/ids.

    Log shippers stamp every line (`2024-05-01T10:00:00.123Z `, `web_1  | `, `INTERNALERROR> `);
    the stamp varies between lines but keeps its shape.
    """
    if not prefix or not prefix.strip():
        return re.compile(re.escape(prefix)) if prefix else None
    parts: list[str] = []
    last = 0
    for m in _PREFIX_TOKEN_RE.finditer(prefix):
        parts.append(re.escape(prefix[last : m.start()]))
        parts.append(r"\w+")
        last = m.end()
    parts.append(re.escape(prefix[last:]))
    pattern = "".join(parts)
    # A trailing space in the stamp is optional: `INTERNALERROR>` may be followed by nothing.
    if pattern.endswith("\\ "):
        pattern = pattern[:-2] + " ?"
    return re.compile(pattern)


def wrapped_frame_start(content: str) -> bool:
    """True for a frame line cut by a terminal or console before its function name: the path's
    closing quote is missing, or it ends with ``line N,`` or ``, in``."""
    st = content.rstrip()
    body = st.lstrip(" \t>")
    if not body.startswith('File "'):
        return False
    if '"' not in body[6:]:
        return True
    m = FRAME_RE.match(st)
    if m is None:
        return st.endswith((", line", '",'))
    if m.group("in") is None:
        return st.endswith(",")
    return m.group("func") is None


def join_wrapped_frame(pending: str, content: str) -> str | None:
    """``pending`` (see ``wrapped_frame_start``) completed by ``content``, or None when ``content``
    is not its continuation (the joined line must be a whole frame with a function name)."""
    st = content.strip()
    if not st or st.startswith('File "') or HEADER_TEXT in st:
        return None
    head = pending.rstrip()
    body = head.lstrip(" \t>")
    if '"' not in body[6:]:
        joined = head + st  # the path itself was cut
    elif head.endswith(", in"):
        # Only a name: a frame whose function an HTML renderer ate is followed by its source line.
        if _FUNCTION_NAME_RE.match(st) is None:
            return None
        joined = f"{head} {st}"
    else:
        joined = f"{head} {st}"
    m = FRAME_RE.match(joined)
    if m is None or m.group("func") is None:
        return None
    return joined


_FUNCTION_NAME_RE = re.compile(r"^(?:<[\w -]{1,100}>|[A-Za-z_][\w.]{0,300})$")
