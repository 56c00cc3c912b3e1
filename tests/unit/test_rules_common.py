"""Locating the failing line and cutting exact, unique edits (shared by every template)."""

from __future__ import annotations

import ast

from selfheal.domain.records import FrameRef
from selfheal.fixers.rules_common import Source, map_frame, replace_node, resolve_line, unique_edit
from tests.support.rules_cases import PATH, context, fixes


def _src(text: str) -> Source:
    return Source("a.py", text, ast.parse(text))


def test_map_frame_by_whole_segment_suffix():
    offered = ["orders/handler.py", "handler.py", "src/billing/handler.py"]
    assert map_frame("/var/task/orders/handler.py", offered) == "orders/handler.py"
    assert map_frame("/srv/billing/handler.py", offered) == "src/billing/handler.py"
    assert map_frame("/x/myhandler.py", offered) is None
    assert map_frame("handler.py", ["pkg/handler.py"]) == "pkg/handler.py"


def test_resolve_line_prefers_the_printed_line_then_the_nearest_same_text():
    src = _src("x = 1\ny = d['k']\nz = 2\ny = d['k']\n")
    assert resolve_line(src, FrameRef(file="a.py", line=4, source="y = d['k']")) == 4
    assert resolve_line(src, FrameRef(file="a.py", line=3, source="y = d['k']")) == 4
    assert resolve_line(src, FrameRef(file="a.py", line=1, source="y = d['k']")) == 2
    assert resolve_line(src, FrameRef(file="a.py", line=2, source="gone()")) is None
    assert resolve_line(src, FrameRef(file="a.py", line=3)) == 3
    assert resolve_line(src, FrameRef(file="a.py", line=30)) is None


def test_unique_edit_widens_until_the_search_occurs_once():
    text = "def a():\n    return 1\n\n\ndef b():\n    return 1\n"
    src = _src(text)
    edit = unique_edit(src, 6, 6, ["    return 2\n"])
    assert edit is not None and text.count(edit.search) == 1
    assert text.replace(edit.search, edit.replace) == "def a():\n    return 1\n\n\ndef b():\n    return 2\n"


def test_replace_node_counts_utf8_bytes_not_characters():
    text = 'def f(data):\n    return {"café": data["prix"]}\n'
    src = _src(text)
    sub = next(n for n in ast.walk(src.tree) if isinstance(n, ast.Subscript))
    edit = replace_node(src, sub, 'data.get("prix")')
    assert edit is not None
    assert text.replace(edit.search, edit.replace) == 'def f(data):\n    return {"café": data.get("prix")}\n'


def test_tab_indented_file_gets_tab_indented_guard():
    code = 'def first(items):\n\treturn items[0]\n'
    ctx = context(code, "IndexError", "list index out of range", "return items[0]")
    assert "\tif not items:\n\t\treturn None\n\treturn items[0]\n" in fixes(ctx)[0].patched[PATH]
