"""Detect edits that delete or weaken tests, and tests that patch the code they claim to test.

A fix must make the code right, not the tests quiet. In every existing test file the edit
touches we compare, per test function: it still exists, it keeps at least as many *effective*
assertions, and gains no skip/xfail. Module-level switches (``pytestmark``, ``collect_ignore``,
collection hooks) may not appear. When the edit cannot be applied or the result does not parse,
a textual count over each block's search and replace text stands in.

An assertion is effective when it can fail: an ``assert`` whose test is not a constant, not
short-circuited (``x or True``), not tautological (``x == x``, ``x is x``), and which is neither
wrapped in a ``try`` whose handler swallows the failure (``except AssertionError``/``Exception``/
bare) nor unreachable (after an unconditional ``return``, under ``if False``); or a
``self.assert*``/``mock.assert_*`` call, ``pytest.raises``/``warns``.

``patches_code_under_test`` finds a new test module that replaces application code (monkeypatch,
``mock.patch``, assignment to an application module's attribute, ``sys.modules``): such a test
proves nothing about the code and cannot count as a reproduction.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from selfheal.domain import pyast
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


_SWALLOWS = {"AssertionError", "Exception", "BaseException"}


def _truthy_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and bool(node.value)


def tautological(test: ast.expr) -> bool:
    """The assertion cannot fail: a constant, ``... or <truthy constant>``, ``x == x``/``x is x``."""
    if isinstance(test, ast.Constant):
        return True
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return any(_truthy_constant(v) or tautological(v) for v in test.values)
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return all(tautological(v) for v in test.values)
    return (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq | ast.Is | ast.LtE | ast.GtE)
            and ast.dump(test.left) == ast.dump(test.comparators[0]))


def _swallows(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_name_of(t) in _SWALLOWS for t in types)


def _dead(node: ast.If) -> bool:
    return isinstance(node.test, ast.Constant) and not node.test.value


def _effective_nodes(stmts: list[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes of ``stmts`` that run and whose failure is not swallowed."""
    for stmt in stmts:
        if isinstance(stmt, ast.Try | ast.TryStar):
            swallowed = any(_swallows(h) for h in stmt.handlers)
            if not swallowed:
                yield from _effective_nodes(stmt.body)
            for handler in stmt.handlers:
                yield from _effective_nodes(handler.body)
            yield from _effective_nodes(stmt.orelse)
            yield from _effective_nodes(stmt.finalbody)
        elif isinstance(stmt, ast.If):
            yield stmt.test
            if not _dead(stmt):
                yield from _effective_nodes(stmt.body)
            yield from _effective_nodes(stmt.orelse)
        elif isinstance(stmt, ast.For | ast.AsyncFor | ast.While | ast.With | ast.AsyncWith):
            for name in ("iter", "test", "target"):
                if hasattr(stmt, name):
                    yield getattr(stmt, name)
            yield from (item.context_expr for item in getattr(stmt, "items", []))
            yield from _effective_nodes(stmt.body)
            yield from _effective_nodes(getattr(stmt, "orelse", []))
        elif isinstance(stmt, ast.Match):
            yield stmt.subject
            for case in stmt.cases:
                yield from _effective_nodes(case.body)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield stmt  # helpers defined inside: counted as written
            yield from (n for n in ast.walk(stmt) if n is not stmt)
        else:
            yield stmt
            yield from (n for n in ast.walk(stmt) if n is not stmt and not isinstance(n, ast.stmt))
            if isinstance(stmt, ast.Return | ast.Raise):
                return  # what follows never runs


def _count(body: ast.AST) -> _TestInfo:
    info = _TestInfo()
    nodes = _effective_nodes(body.body) if isinstance(body, ast.FunctionDef | ast.AsyncFunctionDef) \
        else ast.walk(body)
    for node in nodes:
        if isinstance(node, ast.Assert):
            if not tautological(node.test):
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
        tree = pyast.parse(text)
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


# --- tests that replace the code they test -----------------------------------------------------

_PATCHERS = {"setattr", "delattr", "patch", "object", "dict", "multiple", "setitem", "delitem"}


def module_names(paths: Iterable[str]) -> set[str]:
    """Dotted module names (and their packages) of the application files ``paths``."""
    names: set[str] = set()
    for path in paths:
        if not path.endswith(".py") or is_test_path(path):
            continue
        parts = path[:-3].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        for i in range(1, len(parts) + 1):
            names.add(".".join(parts[:i]))
        if parts and parts[0] == "src":  # src layout: the import name starts below src/
            names.update(".".join(parts[1:i]) for i in range(2, len(parts) + 1))
    return names


def _root(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _dotted(node: ast.AST) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _app_bindings(tree: ast.Module, modules: set[str]) -> set[str]:
    """Local names that refer to application modules or objects imported from them."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in modules:
            bound.update(alias.asname or alias.name for alias in node.names)
    return bound


def patches_code_under_test(text: str, app_paths: Iterable[str]) -> list[str]:
    """Why the test module ``text`` replaces application code (empty: it does not).

    ``app_paths``: the repository paths of the application's modules the fix is about (the
    offered files and the files the edit changes). Looks for ``monkeypatch.setattr``,
    ``mock.patch``/``patch.object``/``mocker.patch``, ``setattr`` and assignments or deletions
    on those modules (by import name or dotted string), and writes to ``sys.modules``.
    """
    try:
        tree = pyast.parse(text)
    except (SyntaxError, ValueError):
        return []
    modules = module_names(app_paths)
    bound = _app_bindings(tree, modules)

    def under(name: str) -> bool:
        return any(name == m or name.startswith(m + ".") for m in modules)

    def app_ref(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return under(node.value)
        return _root(node) in bound or under(_dotted(node))

    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call) and _name_of(node.func) in _PATCHERS:
            first = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "target")]
            if any(app_ref(a) for a in first):
                found.append(f"line {line}: {ast.unparse(node.func)}(...) replaces application code")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute | ast.Subscript) and app_ref(target.value):
                    found.append(f"line {line}: assigns {ast.unparse(target)} in application code")
                elif isinstance(target, ast.Subscript) and _dotted(target.value) == "sys.modules":
                    found.append(f"line {line}: replaces a module in sys.modules")
    return list(dict.fromkeys(found))


def untrusted_reproductions(files: dict[str, str], app_paths: Iterable[str]) -> dict[str, list[str]]:
    """Of the new test modules ``files`` (path -> text), those that replace application code,
    with why. Such a module proves nothing, and it can make other tests pass by the same patch."""
    paths = list(app_paths)
    out = {path: why for path, text in files.items() if (why := patches_code_under_test(text, paths))}
    return out
