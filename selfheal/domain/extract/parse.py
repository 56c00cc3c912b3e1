"""Parse one segmented traceback block (clean lines, log prefixes removed) into typed links.

The segmenter (``scanner.py``) decides which lines belong together; this module turns such a
bounded block into a chain of ``Link`` objects: chained exceptions, exception groups with their
sub-exceptions (recursively, by the ``|``/``+`` margins CPython draws), SyntaxError locations,
IPython frames, Django's debug-page ``Exception Type:`` lines and lost indentation.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from selfheal.domain.extract.lines import (
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


def _split_function(func: str) -> tuple[str | None, str | None]:
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


class _Section:
    """The state of parsing one link; ``feed`` takes one line, ``link`` builds the result."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.cur: Frame | None = None
        self.expect_source = False
        self.exc_type: str | None = None
        self.msg_lines: list[str] = []
        self.msg_open = False
        self.elided = 0
        self.ipy_type: str | None = None

    def feed(self, s: str) -> None:
        # The two commonest lines, decided here as the general path below would decide them.
        if self.exc_type is None and s[:1] == " ":
            if 'File "' in s:
                m = FRAME_RE.match(s)
                func = m.group("func") if m is not None else None
                if m is not None and func and " " not in func.strip() and m.group("line").isdigit():
                    self._add(m.group("file"), int(m.group("line")), func.strip(), True)
                    return
            else:
                cur = self.cur
                if (self.expect_source and cur is not None and cur.line is not None and "[Previous" not in s
                        and HEADER_TEXT not in s):
                    st = s.strip()  # the source line under a frame
                    if st and not is_marker(st):
                        cur.source = st
                        self.expect_source = False
                        return
        st = s.strip()
        if not st:
            self.msg_open = False if self.exc_type is not None else self.msg_open
        elif self.exc_type is not None:
            if self.msg_open and len(self.msg_lines) < _MAX_MESSAGE_LINES:
                self.msg_lines.append(st)
        elif st == "Traceback:" or HEADER_TEXT in s:
            ipm = IPY_HEADER_RE.match(st)
            if ipm and not st.endswith(":"):
                self.ipy_type = ipm.group("type")
        elif not (self._frame(s) or self._ipython(s) or self._marker(s, st)):
            self._other(s, st)

    def _exception(self, m: re.Match[str]) -> None:
        self.exc_type, first = _exception_parts(m)
        self.msg_lines = [first]
        self.msg_open = True

    def _add(self, file: str, line: int | None, function: str | None, expect_source: bool) -> None:
        self.cur = Frame(file, line, function)
        self.frames.append(self.cur)
        self.expect_source = expect_source

    def _frame(self, s: str) -> bool:
        m = FRAME_RE.match(s) if 'File "' in s else None
        if m:
            func = m.group("func")
            if m.group("in") is None:  # a SyntaxError location, not a frame
                self.cur = None
                self.expect_source = True
                return True
            # `in ` with nothing after it: an HTML renderer ate `<module>`.
            func, trailing = _split_function(func) if func else (None, None)
            line_text = m.group("line")
            self._add(m.group("file"), int(line_text) if line_text.isdigit() else None, func, True)
            em = looks_like_exception(trailing, strict=False) if trailing else None
            if em:  # `File "<input>", line 2, in <module> RuntimeError: msg` collapsed onto one line
                self._exception(em)
            return True
        djm = DJANGO_FRAME_RE.match(s) if 'File "' in s else None
        if djm:
            self._add(djm.group("file"), None, djm.group("func"), True)
            return True
        cur = self.cur
        if self.expect_source and cur is not None and cur.line is None:
            nm = DJANGO_LINE_RE.match(s)
            if nm:
                cur.line = int(nm.group("line"))
                cur.source = (nm.group("src") or "").strip() or None
                self.expect_source = False
                return True
        return False

    def _ipython(self, s: str) -> bool:
        if s[0] in " \t":
            return False
        # Every IPython frame form holds " in " but `Cell In[n], line m`: most lines skip the regexes.
        im = ((IPY_FILE_RE.match(s) or IPY_INPUT_RE.match(s) or IPY_CELL_RE.match(s) or IPY_OLD_RE.match(s))
              if " in " in s or s.startswith("Cell In") else None)
        if im:
            gd = im.groupdict()
            line_no = gd.get("line")
            self._add(gd["file"], int(line_no) if line_no else None, gd.get("func"), False)
            return True
        am = IPY_ARROW_RE.match(s) if s[0] == "-" else None
        if am:
            cur = self.cur
            if cur is not None and cur.line is None:
                cur.line = int(am.group("line"))
            if cur is not None and cur.source is None:
                cur.source = s[am.end() :].strip() or None
            return True
        return False

    def _marker(self, s: str, st: str) -> bool:
        rm = REPEAT_RE.match(s) if "[Previous" in s else None
        if rm:
            self.elided += int(rm.group("n"))
            return True
        dm = DJANGO_TYPE_RE.match(st) if st.startswith("Exception Type:") else None
        if dm:
            self.exc_type = dm.group("type")
            self.msg_lines = []
            self.msg_open = False
            return True
        return False

    def _other(self, s: str, st: str) -> None:
        if s[0] in " \t":
            if self.expect_source and self.cur is not None and not is_marker(st):
                self.cur.source = st
            self.expect_source = False
            return
        if self.expect_source and looks_like_exception(s, strict=True) is None:
            if self.cur is not None:
                self.cur.source = st  # the indentation was lost in copy/paste
            self.expect_source = False
            return
        em = looks_like_exception(s, strict=False)
        if em:
            self._exception(em)
        self.expect_source = False

    def link(self, lines: list[str], fallback: tuple[str, str] | None) -> Link:
        exc_type, msg_lines = self.exc_type, self.msg_lines
        if exc_type is not None and not msg_lines:
            # Django's debug page: `Exception Value:` follows `Exception Type:`.
            for raw in lines:
                vm = DJANGO_VALUE_RE.match(raw.strip())
                if vm:
                    msg_lines = [vm.group("msg")]
                    break
        if exc_type is None and fallback is not None:
            exc_type, msg_lines = fallback[0], [fallback[1]]
        if exc_type is None:
            exc_type = self.ipy_type
        message = "\n".join(msg_lines).strip("\n")
        return Link(type=exc_type, message=message, frames=self.frames, elided_frames=self.elided)


def parse_tail(frames: list[Frame], expect_source: bool, rest: list[str], lines: list[str],
               fallback: tuple[str, str] | None = None) -> Link:
    """Finish one link whose leading frames the segmenter already parsed (``frames``; the last
    one still ``expect_source``): parse the ``rest`` of its ``lines`` as ``parse_section`` would.
    The caller guarantees ``rest`` holds no chained-exception separator or header."""
    section = _Section()
    section.frames = frames
    section.cur = frames[-1] if frames else None
    section.expect_source = expect_source and bool(frames)
    for raw in rest:
        section.feed(raw.rstrip())
    return section.link(lines, fallback)


def parse_section(lines: list[str], fallback: tuple[str, str] | None = None) -> Link:
    """Parse one link: optional header, frames, then the exception line and its message."""
    section = _Section()
    for raw in lines:
        section.feed(raw.rstrip())
    return section.link(lines, fallback)


def is_marker(st: str) -> bool:
    """Caret/tilde lines and loguru's variable annotations are not source lines."""
    return not st.strip("^~ -") or st[0] in "│└┃"


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


def _sections(lines: list[str], separator: Callable[[str], LinkKind | None]
              ) -> list[tuple[LinkKind | None, list[str]]]:
    """Split ``lines`` at chained-exception separators (``separator`` gives a separator line's
    kind, None for other lines): (kind of the separator before it, its lines) per section."""
    sections: list[tuple[LinkKind | None, list[str]]] = [(None, [])]
    for ln in lines:
        kind = separator(ln)
        if kind is not None:
            sections.append((kind, []))
        else:
            sections[-1][1].append(ln)
    return sections


def _top_sections(lines: list[str]) -> list[tuple[LinkKind | None, list[str]]]:
    """``_sections`` at the top level's separators (not behind a group's ``|``/``+`` margin)."""
    sections: list[tuple[LinkKind | None, list[str]]] = []
    kind_before: LinkKind | None = None
    start = 0
    # Both separators say "above exception": a substring test spares the other lines the rest.
    for i in [i for i, ln in enumerate(lines) if "above exception" in ln]:
        ln = lines[i]
        kind = _sep_kind(ln) if ln.lstrip()[:1] not in ("|", "+") else None
        if kind is not None:
            sections.append((kind_before, lines[start:i]))
            kind_before, start = kind, i + 1
    sections.append((kind_before, lines[start:]))
    return sections


def parse_sub_chain(lines: list[str]) -> list[Link]:
    """Parse a sub-exception of a group: margin at column 0, possibly chained or a group itself."""
    sections = _sections(lines, lambda ln: _sep_kind(ln[2:]) if ln[:1] == "|" else None)
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


def parse_block(lines: list[str], fallback: tuple[str, str] | None = None,
                first: tuple[list[Frame], bool, int] | None = None) -> list[Link]:
    """Parse a whole top-level block into its chain of links (ordered as printed). ``first`` =
    (frames, expect_source, n): the segmenter already parsed the frames of the first ``n`` lines
    (see ``parse_tail``); the first link is finished from there."""
    sections = _top_sections(lines)
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
            fb = fallback if idx == last else None
            if idx == 0 and first is not None and first[2] <= len(sec):
                link = parse_tail(first[0], first[1], sec[first[2] :], sec, fb)
            else:
                link = parse_section(sec, fb)
        link.link = kind if chain else None
        chain.append(link)
    return chain
