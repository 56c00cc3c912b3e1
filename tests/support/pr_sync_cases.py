"""A traceback of the sample service in ``tests.support.git_repos`` and its fix (PR sync tests)."""

from __future__ import annotations

from tests.support.git_repos import APP_PY

TRACE = """\
2026-11-29 10:00:01 ERROR request failed
Traceback (most recent call last):
  File "/app/app.py", line 6, in handler
    return {"avg": average(event["values"])}
  File "/app/app.py", line 2, in average
    return sum(values) / len(values)
ZeroDivisionError: division by zero
"""
FIXED = APP_PY.replace("return sum(values) / len(values)",
                       "return sum(values) / len(values) if values else 0.0")
