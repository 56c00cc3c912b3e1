"""Does a default keep the shape the code downstream expects?

A candidate that reads a missing value with a default (``user.get("name", "")``) only moves the
exception when the code right after it fails on that default (``"".split()[0]`` raises
IndexError). ``downstream_failure`` follows the chain of method calls and constant subscripts
applied to the value on the same expression and evaluates it on the default, with literals only
(``ast.literal_eval``) and a whitelist of side-effect-free methods of ``str``, ``list``, ``dict``
and ``None``: no source code is executed.
"""

from __future__ import annotations

import ast
from typing import Any

from selfheal.domain import pyast
from selfheal.fixers.rules_common import Source

_PURE: dict[type, frozenset[str]] = {
    str: frozenset({"split", "rsplit", "strip", "lstrip", "rstrip", "lower", "upper", "title", "casefold",
                    "splitlines", "capitalize", "startswith", "endswith", "isdigit", "encode", "zfill"}),
    list: frozenset({"copy", "count", "index"}),
    dict: frozenset({"get", "keys", "values", "items", "copy"}),
    int: frozenset({"bit_length"}),
    float: frozenset({"is_integer"}),
}


def downstream_failure(src: Source, node: ast.AST, default: str) -> str | None:
    """Why the code consuming ``node`` fails when ``node`` evaluates to ``default``
    (e.g. ``"".split()[0] raises IndexError``); None when it does not, or cannot be told."""
    try:
        value: Any = pyast.literal_eval(default)
    except (ValueError, SyntaxError):
        return None
    text, cur = default, node
    for _ in range(12):
        parent = src.parent(cur)
        if isinstance(parent, ast.Attribute) and parent.value is cur:
            call = src.parent(parent)
            if value is None:
                return f"{text}.{parent.attr} raises AttributeError"
            if not (isinstance(call, ast.Call) and call.func is parent) or call.keywords:
                return None
            if parent.attr not in _PURE.get(type(value), frozenset()):
                return None
            try:
                args = [ast.literal_eval(a) for a in call.args]
            except (ValueError, SyntaxError):
                return None
            text += f".{parent.attr}({', '.join(map(repr, args))})"
            try:
                value = getattr(value, parent.attr)(*args)
            except Exception as exc:  # noqa: BLE001 - whitelisted methods of literals only
                return f"{text} raises {type(exc).__name__}"
            cur = call
        elif isinstance(parent, ast.Subscript) and parent.value is cur:
            try:
                index = ast.literal_eval(parent.slice)
            except (ValueError, SyntaxError):
                return None
            text += f"[{index!r}]"
            try:
                value = value[index]
            except Exception as exc:  # noqa: BLE001 - indexing a literal
                return f"{text} raises {type(exc).__name__}"
            cur = parent
        elif isinstance(parent, ast.For | ast.AsyncFor | ast.comprehension) and parent.iter is cur:
            try:
                iter(value)
            except TypeError:
                return f"iterating {text} raises TypeError"
            return None
        else:
            return None
    return None
