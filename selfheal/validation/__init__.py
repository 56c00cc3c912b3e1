"""Patch validation: safety gates, sandboxed tests before and after, reproduction, the report.

Entry points (imported lazily, so ``selfheal.validation.gates`` stays cheap to import):
``validate_candidate``, ``prime_baseline``, ``BaselineCache`` (``service``) and
``render_markdown``, ``render_text``, ``print_report`` (``render``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "validate_candidate": "selfheal.validation.service",
    "prime_baseline": "selfheal.validation.service",
    "BaselineCache": "selfheal.validation.service",
    "render_markdown": "selfheal.validation.render",
    "render_text": "selfheal.validation.render",
    "print_report": "selfheal.validation.render",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'selfheal.validation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
