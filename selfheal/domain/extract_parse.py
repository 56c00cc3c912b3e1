"""Parse one segmented traceback block (clean lines, log prefixes removed) into typed links.

The segmenter (``extract.py``) decides which lines belong together; this module turns such a
bounded block into a chain of ``Link`` objects: chained exceptions, exception groups with their
sub-exceptions (recursively, by the ``|``/``+`` margins CPython draws), SyntaxError locations,
IPython frames, Django's debug-page ``Exception Type:`` lines and lost indentation.
"""

from __future__ import annotations

import re

from selfheal.domain.extract_lines import (
    CAUSE_TEXT,
    CONTEXT_TEXT,
    DJANGO_FRAME_RE,
    DJANGO_LINE_RE,
    DJANGO_TYPE_RE,
    DJANGO_VALUE_RE,
    FRAME_RE,
    HEADER_TEXT,
    IPY_ARROW_RE,
    IPY_CELL_RE,
    IPY_FILE_RE,
    IPY_HEADER_RE,
    IPY_INPUT_RE,
    IPY_OLD_RE,
    REPEAT_RE,
    looks_like_exception,
)
from selfheal.domain.traceback import Frame, Link, LinkKind, Traceback

GROUP_HEADER = "Exception Group Traceback"
_MORE_RE = re.compile(r"and (\d{1,9}) more exception")
_MAX_MESSAGE_LINES = 50


def _sep_kind(content: str) -> LinkKind | None:
    s = content.strip()
    if s.startswith(CONTEXT_TEXT):
        return "context"
    if s.startswith(CAUSE_TEXT):
        return "cause"
    return None


def _split_function(func: str) -> tuple[str, str | None]:
    """Split ``<module> RuntimeError: msg`` (a traceback collapsed onto one line) into parts."""
    func = func.strip()
    if " " not in func:
        return func, None
    if func.startswith("<"):
        end = func.find(">")
        if end > 0:
            rest = func[end + 1 :].strip()
            return func[: end + 1], rest or None
    head, _, rest = func.partition(" ")
    return head, rest.strip() or None


def _exception_parts(m: re.Match[str]) -> tuple[str, str]:
    rest = m.group("rest") or ""
    if rest.startswith(": "):
        msg = rest[2:]
    elif rest.startswith(":"):
        msg = rest[1:]
    else:
        msg = rest
    return m.group("type"), msg.strip(" ")


def parse_section(lines: list[str], fallback: tuple[str, str] | None = None) -> Link:  # noqa: C901
    """Parse one link: optional header, frames, then the exception line and its message."""
    frames: list[Frame] = []
    cur: Frame | None = None
    expect_source = False
    exc_type: str | None = None
    msg_lines: list[str] = []
    msg_open = False
    elided = 0
    ipy_type: str | None = None
    for raw in lines:
        s = raw.rstrip()
        st = s.strip()
        if not st:
            if exc_type is not None:
                msg_open = False
            continue
        if exc_type is not None:
            if msg_open and len(msg_lines) < _MAX_MESSAGE_LINES:
                msg_lines.append(st)
            continue
        if st == "Traceback:":
            continue
        if HEADER_TEXT in s:
            ipm = IPY_HEADER_RE.match(st)
            if ipm and not st.endswith(":"):
                ipy_type = ipm.group("type")
            continue
        m = FRAME_RE.match(s)
        if m:
            func = m.group("func")
            if func is None:  # a SyntaxError location, not a frame
                cur = None
                expect_source = True
                continue
            func, trailing = _split_function(func)
            line_text = m.group("line")
            cur = Frame(m.group("file"), int(line_text) if line_text.isdigit() else None, func)
            frames.append(cur)
            expect_source = True
            if trailing:
                em = looks_like_exception(trailing, strict=False)
                if em:
                    exc_type, first = _exception_parts(em)
                    msg_lines = [first]
                    msg_open = True
            continue
        djm = DJANGO_FRAME_RE.match(s)
        if djm:
            cur = Frame(djm.group("file"), None, djm.group("func"))
            frames.append(cur)
            expect_source = True
            continue
        if expect_source and cur is not None and cur.line is None:
            nm = DJANGO_LINE_RE.match(s)
            if nm:
                cur.line = int(nm.group("line"))
                cur.source = (nm.group("src") or "").strip() or None
                expect_source = False
                continue
        if s[0] not in " \t":
            im = IPY_FILE_RE.match(s) or IPY_INPUT_RE.match(s) or IPY_CELL_RE.match(s) or IPY_OLD_RE.match(s)
            if im:
                gd = im.groupdict()
                line_no = gd.get("line")
                cur = Frame(gd["file"], int(line_no) if line_no else None, gd.get("func"))
                frames.append(cur)
                expect_source = False
                continue
            am = IPY_ARROW_RE.match(s)
            if am:
                if cur is not None and cur.line is None:
                    cur.line = int(am.group("line"))
                if cur is not None and cur.source is None:
                    cur.source = s[am.end() :].strip() or None
                continue
        rm = REPEAT_RE.match(s)
        if rm:
            elided += int(rm.group("n"))
            continue
        dm = DJANGO_TYPE_RE.match(st)
        if dm:
            exc_type = dm.group("type")
            msg_lines = []
            msg_open = False
            continue
        if s[0] in " \t":
            if expect_source:
                if cur is not None and not _is_marker(st):
                    cur.source = st
                expect_source = False
            continue
        if expect_source and looks_like_exception(s, strict=True) is None:
            if cur is not None:
                cur.source = st  # the indentation was lost in copy/paste
            expect_source = False
            continue
        em = looks_like_exception(s, strict=False)
        if em:
            exc_type, first = _exception_parts(em)
            msg_lines = [first]
            msg_open = True
        expect_source = False
    if exc_type is not None and not msg_lines:
        # Django's debug page: `Exception Value:` follows `Exception Type:`.
        for raw in lines:
            vm = DJANGO_VALUE_RE.match(raw.strip())
            if vm:
                msg_lines = [vm.group("msg")]
                break
    if exc_type is None and fallback is not None:
        exc_type, msg_lines = fallback[0], [fallback[1]]
    if exc_type is None and ipy_type is not None:
        exc_type = ipy_type
    message = "\n".join(msg_lines).strip("\n")
    return Link(type=exc_type, message=message, frames=frames, elided_frames=elided)


def _is_marker(st: str) -> bool:
    """Caret/tilde lines and loguru's variable annotations are not source lines."""
    return all(c in "^~ -" for c in st) or st[0] in "│└┃"


def _dedent(lines: list[str], col: int) -> list[str]:
    return [ln[col:] if len(ln) > col else "" for ln in lines]


def parse_group(lines: list[str]) -> Link:
    """Parse an exception group whose margin (``+``/``|``) is at column 0 of ``lines``."""
    own: list[str] = []
    i = 0
    while i < len(lines) and not lines[i].startswith("+-"):
        own.append(lines[i][2:])
        i += 1
    link = parse_section(own)
    link.is_group = True
    rest = lines[i:]
    if rest:
        rest[0] = "  " + rest[0][2:]
    chunk: list[str] | None = None
    more_mode = False
    for ln in rest:
        body = ln[2:]
        if body.startswith("+-") and not body.startswith("+-+"):
            if chunk is not None:
                link.exceptions.append(Traceback(chain=parse_sub_chain(chunk)))
            label = body.strip("+- ")
            more_mode = label == "..."
            chunk = [] if label[:1].isdigit() else None
            continue
        if more_mode:
            mm = _MORE_RE.search(body)
            if mm:
                link.more_exceptions += int(mm.group(1))
            continue
        if chunk is not None:
            chunk.append(body)
    if chunk:
        link.exceptions.append(Traceback(chain=parse_sub_chain(chunk)))
    return link


def parse_sub_chain(lines: list[str]) -> list[Link]:
    """Parse a sub-exception of a group: margin at column 0, possibly chained or a group itself."""
    sections: list[tuple[LinkKind | None, list[str]]] = [(None, [])]
    for ln in lines:
        kind = _sep_kind(ln[2:]) if ln[:1] == "|" else None
        if kind is not None:
            sections.append((kind, []))
        else:
            sections[-1][1].append(ln)
    chain: list[Link] = []
    for kind, sec in sections:
        first = next((ln[2:].strip() for ln in sec if ln[2:].strip()), "")
        if first.startswith(GROUP_HEADER):
            link = parse_group(sec)
        else:
            content = [ln[2:] for ln in sec]
            if not any(c.strip() for c in content):
                continue
            link = parse_section(content)
        link.link = kind if chain else None
        chain.append(link)
    return chain


def parse_block(lines: list[str], fallback: tuple[str, str] | None = None) -> list[Link]:
    """Parse a whole top-level block into its chain of links (ordered as printed)."""
    sections: list[tuple[LinkKind | None, list[str]]] = [(None, [])]
    for ln in lines:
        stripped = ln.lstrip()
        kind = _sep_kind(ln) if stripped[:1] not in ("|", "+") else None
        if kind is not None:
            sections.append((kind, []))
        else:
            sections[-1][1].append(ln)
    chain: list[Link] = []
    last = len(sections) - 1
    for idx, (kind, sec) in enumerate(sections):
        group_line = next((ln for ln in sec if GROUP_HEADER in ln), None)
        if group_line is not None and group_line.lstrip()[:1] in ("+", "|"):
            col = len(group_line) - len(group_line.lstrip())
            start = sec.index(group_line)
            link = parse_group(_dedent(sec[start:], col))
        else:
            if not any(ln.strip() for ln in sec):
                continue
            link = parse_section(sec, fallback if idx == last else None)
        link.link = kind if chain else None
        chain.append(link)
    return chain
