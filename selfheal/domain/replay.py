"""Replay a recorded failing input against the entry frame: a reproduction and a regression test.

The entry frame is the outermost in-app frame (``profiles/app.py`` in ``handler``); its module is
the file's dotted path below the import root (the first directory up that is not a package, e.g.
``src/``). The replay calls ``handler(event, context)`` (or ``handler(event)``, by its signature)
with each recorded event and a minimal Lambda context stub.

``reproduction_script`` is what validation runs before and after the patch (exit 0: nothing
raised; 10: the error's type raised from the error's innermost in-app frame, i.e. reproduced;
11: something else raised; each input's outcome is printed as a ``SELFHEAL-REPLAY`` JSON line).
``regression_test`` is the same replay as a test module in the repository's style, shipped in
the pull request. Recorded events are untrusted text: they enter the generated code only as
``repr`` string literals, decoded with ``json.loads``.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

from selfheal.domain import pyast
from selfheal.domain.code_slices import path_parts

MARKER = "SELFHEAL-REPLAY"
# Exit codes of the script. Not 1: an uncaught error of the script itself exits 1, and must not
# read as a reproduction.
EXIT_CLEAN, EXIT_REPRODUCED, EXIT_OTHER = 0, 10, 11


@dataclass(frozen=True)
class EntryPoint:
    """What the replay calls: ``module.function`` found at ``path``, importable from ``root``."""

    path: str  # repository path of the module
    root: str  # import root ("" or e.g. "src")
    module: str
    function: str
    arity: int  # 2: (event, context); 1: (event)

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.function}"


def import_root(path: str, repo_files: Sequence[str]) -> tuple[str, str]:
    """``(root, module)`` of a repository ``path``: walk up while the directory is a package."""
    parts = path_parts(path)
    files = set(repo_files)
    depth = len(parts) - 1  # index of the first package directory part
    while depth > 0 and "/".join([*parts[:depth], "__init__.py"]) in files:
        depth -= 1
    root_parts = parts[:depth]
    mod_parts = parts[depth:]
    mod_parts[-1] = mod_parts[-1][:-3] if mod_parts[-1].endswith(".py") else mod_parts[-1]
    if mod_parts[-1] == "__init__":
        mod_parts = mod_parts[:-1]
    return "/".join(root_parts), ".".join(mod_parts)


def entry_point(path: str, function: str | None, source: str, repo_files: Sequence[str]) -> EntryPoint | None:
    """The replay target, when ``function`` is a top-level function of ``source`` taking the event
    (and a context) positionally; None otherwise (a method, a nested function, a script body)."""
    if not function or not function.isidentifier() or not path.endswith(".py"):
        return None
    try:
        tree = pyast.parse(source)
    except SyntaxError:
        return None
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                 and n.name == function), None)
    if node is None or isinstance(node, ast.AsyncFunctionDef):
        return None
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    if args.vararg is None and not 1 <= required <= 2:
        return None
    arity = 2 if positional >= 2 or args.vararg is not None else 1
    root, module = import_root(path, repo_files)
    if not module or not all(p.isidentifier() for p in module.split(".")):
        return None
    return EntryPoint(path=path, root=root, module=module, function=function, arity=arity)


_SCRIPT = '''"""selfheal replay of {n} recorded failing input(s) against {dotted} (generated)."""
import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, {root!r}) if {root!r} else HERE)
EVENTS = [json.loads(text) for text in {events!r}]
EXPECTED_TYPE = {exc_type!r}
EXPECTED_FRAME = ({frame_file!r}, {frame_function!r})


class LambdaContext:
    function_name = {function_name!r}
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + function_name
    memory_limit_in_mb = 128
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "selfheal-replay"

    def get_remaining_time_in_millis(self):
        return 300000


def in_app(filename):
    path = os.path.abspath(filename)
    if path == os.path.abspath(__file__) or not path.startswith(HERE + os.sep):
        return None
    rel = os.path.relpath(path, HERE).replace(os.sep, "/")
    return None if "site-packages/" in rel or rel.startswith(".") else rel


def main():
    reproduced_any = raised_any = False
    for number, event in enumerate(EVENTS, 1):
        try:
            from {module} import {function} as entry

            entry({call_args})
        except BaseException as exc:  # noqa: BLE001 - every exception is the replay's answer
            frames = [(in_app(f.filename), f.name) for f in traceback.extract_tb(exc.__traceback__)]
            frames = [(f, n) for f, n in frames if f]
            inner = frames[-1] if frames else None
            same_frame = inner is not None and inner[1] == EXPECTED_FRAME[1] and (
                inner[0].endswith(EXPECTED_FRAME[0]) or EXPECTED_FRAME[0].endswith(inner[0]))
            reproduced = type(exc).__name__ == EXPECTED_TYPE and same_frame
            traceback.print_exc()
            print({marker!r}, json.dumps({{"input": number, "raised": type(exc).__name__,
                  "where": "%s in %s" % inner if inner else "", "reproduced": reproduced}}), flush=True)
            reproduced_any, raised_any = reproduced_any or reproduced, True
        else:
            print({marker!r}, json.dumps({{"input": number, "raised": None}}), flush=True)
    return {reproduced} if reproduced_any else {other} if raised_any else {clean}


if __name__ == "__main__":
    sys.exit(main())
'''


def reproduction_script(entry: EntryPoint, events: Sequence[str], exc_type: str,
                        frame_file: str, frame_function: str) -> str:
    """The replay validation runs (see module docstring for its exit codes)."""
    return _SCRIPT.format(
        n=len(events), dotted=entry.dotted, root=entry.root, events=list(events),
        exc_type=exc_type.rsplit(".", 1)[-1], frame_file=frame_file, frame_function=frame_function,
        function_name=entry.module.split(".")[0], module=entry.module, function=entry.function,
        call_args="event, LambdaContext()" if entry.arity == 2 else "event", marker=MARKER,
        reproduced=EXIT_REPRODUCED, other=EXIT_OTHER, clean=EXIT_CLEAN)


_TEST_HEADER = '''"""Regression test for selfheal error {short_id}: {exc_type} in {dotted}.

Replays the event(s) recorded from the failing invocation(s) (redacted) against the handler;
before the fix each raised {exc_type}.
"""

import json

from {module} import {function}

EVENTS = [json.loads(text) for text in {events!r}]


class _LambdaContext:
    function_name = {function_name!r}
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + function_name
    memory_limit_in_mb = 128
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self):
        return 300000
'''

_PYTEST_BODY = '''

def test_selfheal_{short_id}_recorded_inputs_do_not_raise():
    for event in EVENTS:
        {function}({call_args})
'''

_UNITTEST_BODY = '''

class TestSelfheal{short_id}(unittest.TestCase):
    def test_recorded_inputs_do_not_raise(self):
        for event in EVENTS:
            with self.subTest(event=event):
                {function}({call_args})
'''


def regression_test(entry: EntryPoint, events: Sequence[str], exc_type: str, short_id: str, *,
                    unittest_style: bool = False) -> str:
    """The replay as a test module (pytest functions, or ``unittest.TestCase`` when the
    repository's tests are written that way)."""
    fields = {"short_id": short_id, "exc_type": exc_type.rsplit(".", 1)[-1], "dotted": entry.dotted,
              "module": entry.module, "function": entry.function, "events": list(events),
              "function_name": entry.module.split(".")[0],
              "call_args": "event, _LambdaContext()" if entry.arity == 2 else "event"}
    text = _TEST_HEADER.format(**fields)
    if unittest_style:
        text = text.replace("import json\n", "import json\nimport unittest\n", 1)
        return text + _UNITTEST_BODY.format(**fields)
    return text + _PYTEST_BODY.format(**fields)
