"""Detect edits that delete or weaken tests (used by the ``no_test_deletion`` gate).

A fix must make the code right, not the tests quiet. In every existing test file the edit
touches we compare, per test function: it still exists, it keeps at least as many real
assertions (``assert`` with a non-constant test, ``self.assert*``/``mock.assert_*`` calls,
``pytest.raises``/``warns``), and gains no skip/xfail. Module-level switches (``pytestmark``,
``collect_ignore``, collection hooks) may not appear. When the edit cannot be applied or the
result does not parse, a textual count over each block's search and replace text stands in.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from selfheal.domain.edit_format import is_test_path
from selfheal.domain.fixing import EditProposal

_SKIP_WORDS = ("skip", "skipif", "xfail", "importorskip")
_MODULE_SWITCHES = ("pytestmark", "collect_ignore", "collect_ignore_glob", "pytest_collection_modifyitems",
                    "pytest_ignore_collect", "pytest_collect_file", "pytest_runtest_setup",
                    "pytest_runtest_call", "pytest_runtest_makereport", "pytest_pycollect_makeitem")
_ASSERT_TEXT = re.compile(r"\bassert\b(?!\s+(True|1)\b)|\.assert\w*\(|\braises\(|\bwarns\(")
_TEST_DEF_TEXT = re.compile(r"^\s*(async\s+)?def\s+test\w*|^\s*class\s+Test\w*", re.MULTILINE)
_SKIP_TEXT = re.compile(r"\b(skip|skipif|xfail|importorskip)\b")


@dataclass
class _TestInfo:
    asserts: int = 0
    skips: int = 0


@dataclass
class _FileInfo:
    tests: dict[str, _TestInfo] = field(default_factory=dict)
    switches: set[str] = field(default_factory=set)


def _name_of(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name_of(node.func)
    return ""


def _count(body: ast.AST) -> _TestInfo:
    info = _TestInfo()
    for node in ast.walk(body):
        if isinstance(node, ast.Assert) and not isinstance(node.test, ast.Constant):
            info.asserts += 1
        elif isinstance(node, ast.Call):
            name = _name_of(node.func)
            if name.startswith("assert") or name in ("raises", "warns", "deprecated_call"):
                info.asserts += 1
            elif name in _SKIP_WORDS:
                info.skips += 1
    if isinstance(body, ast.FunctionDef | ast.AsyncFunctionDef):
        for deco in body.decorator_list:
            if any(_name_of(n) in _SKIP_WORDS for n in ast.walk(deco)):
                info.skips += 1
    return info


def _walk_tests(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, int]]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            yield node.name, node, 0
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            class_skips = sum(1 for d in node.decorator_list
                              if any(_name_of(n) in _SKIP_WORDS for n in ast.walk(d)))
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef) and sub.name.startswith("test"):
                    yield f"{node.name}.{sub.name}", sub, class_skips


def _info(text: str) -> _FileInfo | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    out = _FileInfo()
    for name, fn, class_skips in _walk_tests(tree):
        info = _count(fn)
        info.skips += class_skips
        out.tests[name] = info
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in _MODULE_SWITCHES:
            out.switches.add(node.name)
        out.switches.update(t.id for t in targets if isinstance(t, ast.Name) and t.id in _MODULE_SWITCHES)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and _name_of(node.value.func) in _SKIP_WORDS:
            out.switches.add("module-level skip")
    return out


def _compare_ast(path: str, old: _FileInfo, new: _FileInfo) -> list[str]:
    problems: list[str] = []
    for name, info in old.tests.items():
        after = new.tests.get(name)
        if after is None:
            problems.append(f"{path}: test {name} removed")
            continue
        if after.asserts < info.asserts:
            problems.append(f"{path}: test {name} has {after.asserts} assertion(s), had {info.asserts}")
        if after.skips > info.skips:
            problems.append(f"{path}: test {name} gains a skip/xfail")
    for switch in sorted(new.switches - old.switches):
        problems.append(f"{path}: adds {switch}, which can switch tests off")
    return problems


def _compare_text(path: str, old: str, new: str) -> list[str]:
    problems: list[str] = []
    if len(_TEST_DEF_TEXT.findall(new)) < len(_TEST_DEF_TEXT.findall(old)):
        problems.append(f"{path}: test definitions removed")
    if len(_ASSERT_TEXT.findall(new)) < len(_ASSERT_TEXT.findall(old)):
        problems.append(f"{path}: assertions removed")
    if len(_SKIP_TEXT.findall(new)) > len(_SKIP_TEXT.findall(old)):
        problems.append(f"{path}: skip/xfail added")
    if any(s in new and s not in old for s in _MODULE_SWITCHES):
        problems.append(f"{path}: adds a collection switch that can turn tests off")
    return problems


def compare_test_files(before: dict[str, str], after: dict[str, str] | None,
                       proposal: EditProposal) -> list[str]:
    """Problems (human-readable) with how the edit treats existing test files; empty when fine.

    ``before``: the touched files' current text; ``after``: their new text (None when the edit
    does not apply, in which case each block's search/replace text is compared instead).
    """
    problems: list[str] = []
    touched = [p for p in dict.fromkeys(e.path for e in proposal.edits)
               if p in before and (is_test_path(p) or p.rsplit("/", 1)[-1] == "conftest.py")]
    for path in touched:
        new_text = after.get(path, before[path]) if after is not None else None
        old_info = _info(before[path])
        new_info = _info(new_text) if new_text is not None else None
        if old_info is not None and new_info is not None:
            problems.extend(_compare_ast(path, old_info, new_info))
        elif new_text is not None:
            problems.extend(_compare_text(path, before[path], new_text))
        else:
            for edit in proposal.edits:
                if edit.path == path:
                    problems.extend(_compare_text(path, edit.search, edit.replace))
    return list(dict.fromkeys(problems))
