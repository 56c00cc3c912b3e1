"""Helpers for the rules-fixer tests: build a FixContext around one snippet, ask the fixer for
each attempt, apply the reply with the real edit-format parser, and load the patched module."""

from __future__ import annotations

import sys
import textwrap
import types
from dataclasses import dataclass

from selfheal.domain.edit_format import apply_proposal, parse_reply
from selfheal.domain.fixing import EditProposal, FixContext, Prompt
from selfheal.domain.records import FrameRef
from selfheal.fixers import RulesFixer

PATH = "svc/handler.py"


def line_of(code: str, needle: str) -> int:
    """1-based number of the (first) line containing ``needle``."""
    for n, line in enumerate(code.splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in the snippet")


def context(code: str, exc_type: str, message: str, failing: str, *, path: str = PATH,
            line: int | None = None, function: str = "f", extra_frames: list[FrameRef] | None = None,
            files: dict[str, str] | None = None) -> FixContext:
    """A context whose innermost frame fails on the line containing ``failing``."""
    code = textwrap.dedent(code)
    n = line if line is not None else line_of(code, failing)
    source = code.splitlines()[line_of(code, failing) - 1].strip()
    frame = FrameRef(file=f"/var/task/{path}", function=function, line=n, source=source)
    all_files = {path: code, **(files or {})}
    return FixContext(fingerprint="f" * 32, exc_type=exc_type, message=message,
                      frames=[*(extra_frames or []), frame], offered_files=list(all_files), files=all_files)


@dataclass
class Attempt:
    text: str
    proposal: EditProposal
    patched: dict[str, str]


def attempts(ctx: FixContext, limit: int = 8) -> list[Attempt]:
    """Every answer of the fixer, attempt 1.. until it abstains (the abstention is the last item)."""
    fixer = RulesFixer()
    out: list[Attempt] = []
    for n in range(1, limit + 1):
        reply = fixer.complete(Prompt(system="s", user="u", attempt=n, context=ctx))
        assert reply.model_id == "rules" and reply.tokens_in == 0 and reply.tokens_out == 0
        assert reply.cost_usd == 0.0
        proposal = parse_reply(reply.text, ctx.offered_files)
        if proposal.abstained:
            out.append(Attempt(reply.text, proposal, {}))
            return out
        for edit in proposal.edits:
            assert ctx.files[edit.path].count(edit.search) == 1, "search text must occur exactly once"
        patched = {**ctx.files, **apply_proposal(ctx.files, proposal)}
        out.append(Attempt(reply.text, proposal, patched))
    raise AssertionError("the fixer never ran out of candidates")


def fixes(ctx: FixContext) -> list[Attempt]:
    found = attempts(ctx)
    return found[:-1]


def load(text: str, name: str = "patched") -> types.ModuleType:
    """Execute patched snippet text (test fixtures only) as a fresh module."""
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up while the class is created
    try:
        exec(compile(text, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our own fixture code
    finally:
        del sys.modules[name]
    return module
