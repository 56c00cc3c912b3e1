"""Source is parsed one thread at a time (``selfheal.domain.pyast``): CPython 3.11's AST converter
keeps its recursion depth in interpreter-wide state, and ``selfheal watch`` runs fixes in threads
("SystemError: AST constructor recursion depth mismatch" failed one fix in three watch runs of the
demo's log before this)."""

from __future__ import annotations

import ast
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from selfheal.domain import pyast

PACKAGE = Path(pyast.__file__).resolve().parents[1]


def test_no_module_of_the_package_parses_around_the_lock() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == Path(pyast.__file__).resolve():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "ast"
                    and node.func.attr == "parse"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_parses_from_many_threads_never_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    real_parse = ast.parse
    inside = 0
    most = 0
    guard = threading.Lock()

    def slow_parse(source: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.002)  # widen the window another thread would use
        try:
            return real_parse(source, *args, **kwargs)
        finally:
            with guard:
                inside -= 1

    monkeypatch.setattr(ast, "parse", slow_parse)
    results: list[Any] = []

    def work() -> None:
        for _ in range(5):
            results.append(pyast.parse("x = {'a': [1, 2]}\n").body[0])
            results.append(pyast.parse_expression("a | None").body)
            results.append(pyast.literal_eval("  {'k': (1, 2)}"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1 and len(results) == 60
    assert {'k': (1, 2)} in results and any(isinstance(r, ast.BinOp) for r in results)


def test_literal_eval_is_ast_literal_eval() -> None:
    for text in ("{'a': 1, 'b': [None, True]}", "  (1, 2)", "-3.5"):
        assert pyast.literal_eval(text) == ast.literal_eval(text)
    with pytest.raises(ValueError):
        pyast.literal_eval("{'a': f(1)}")
