"""Parsing Python source to an AST, one thread at a time.

CPython 3.11 keeps the AST converter's recursion depth in interpreter-wide state, so two
threads building AST objects at once can fail with "SystemError: AST constructor recursion
depth mismatch" (python/cpython gh-106905). ``selfheal watch`` runs fixes in threads, and the
rules fixer, the context builder, the replay writer and the validation gates all parse source:
every parse in the package goes through this module, behind one lock, so one fix never fails
another. A test keeps ``ast.parse`` and string ``ast.literal_eval`` out of the rest of the package.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)`` (a module), serialised across threads."""
    with _LOCK:
        return ast.parse(source, filename=filename)


def parse_expression(source: str) -> ast.Expression:
    """``ast.parse(source, mode="eval")``, serialised across threads."""
    with _LOCK:
        return ast.parse(source, mode="eval")


def literal_eval(source: str) -> Any:
    """``ast.literal_eval`` of a string (which parses it), serialised across threads."""
    return ast.literal_eval(parse_expression(source.lstrip(" \t")))
