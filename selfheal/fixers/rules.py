"""The offline ``rules`` fixer: deterministic AST-based fix templates for common crash classes.

It reads the structured ``FixContext`` (exception, in-app frames, offered files with their full
text), never the prompt text, so log content cannot steer it. Each template proposes ranked
candidate edits in the edit format; attempt N of the fix workflow gets the N-th best candidate,
and validation picks. Errors that no code edit fixes (a missing dependency, unbounded recursion,
memory exhaustion, a crash wholly inside library code) get an ``ABSTAIN`` with the reason.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from selfheal.domain import pyast
from selfheal.domain.edit_format import render_proposal
from selfheal.domain.fixing import EditProposal, FixContext, ModelReply, Prompt
from selfheal.fixers import (
    rules_index,
    rules_keyerror,
    rules_names,
    rules_none,
    rules_operand,
    rules_zerodiv,
)
from selfheal.fixers.rules_common import Candidate, Site, Source, apply_check, base_type, locate_sites

MODEL_ID = "rules"
REDACTED = "[REDACTED"

NOT_CODE_FIXABLE = {
    "ModuleNotFoundError": "a dependency is missing from the runtime environment; install it or add it to "
    "the requirements. No code edit fixes that",
    "ImportError": "an import failed (a missing or incompatible dependency); that is an environment or "
    "packaging problem, not a local code defect",
    "RecursionError": "unbounded recursion (a cycle in the data or a missing base case) needs a design "
    "decision, not a local guard",
    "MemoryError": "the process ran out of memory: a capacity or data-volume problem, not a code defect",
    "SystemExit": "the program exited on purpose",
    "KeyboardInterrupt": "the process was interrupted by a signal",
}

Rule = Callable[[str, str, list[Site], dict[str, Source]], tuple[list[Candidate], str]]


def _names(typ: str, msg: str, sites: list[Site], files: dict[str, Source]) -> tuple[list[Candidate], str]:
    return rules_names.propose(typ, msg, sites, files)


def _keyerror(typ: str, msg: str, sites: list[Site], files: dict[str, Source]) -> tuple[list[Candidate], str]:
    return rules_keyerror.propose(typ, msg, sites)


def _none(typ: str, msg: str, sites: list[Site], files: dict[str, Source]) -> tuple[list[Candidate], str]:
    return rules_none.propose(typ, msg, sites)


def _zerodiv(typ: str, msg: str, sites: list[Site], files: dict[str, Source]) -> tuple[list[Candidate], str]:
    return rules_zerodiv.propose(typ, msg, sites)


def _index(typ: str, msg: str, sites: list[Site], files: dict[str, Source]) -> tuple[list[Candidate], str]:
    return rules_index.propose(typ, msg, sites)


def _operand(typ: str, msg: str, sites: list[Site], files: dict[str, Source]) -> tuple[list[Candidate], str]:
    return rules_operand.propose(typ, msg, sites)


def choose_rule(exc_type: str, message: str) -> Rule | None:
    """The template for this exception, or None when there is no rule for it."""
    typ = base_type(exc_type)
    if rules_none.kind_of(typ, message):
        return _none
    if rules_operand.handles(typ, message):
        return _operand
    if typ in ("NameError", "UnboundLocalError") or typ == "AttributeError":
        return _names
    if typ == "KeyError":
        return _keyerror
    if rules_zerodiv.handles(typ) or (typ == "InvalidOperation" and "Division" in message):
        return _zerodiv
    if typ == "IndexError":
        return _index
    return None


def propose(ctx: FixContext) -> tuple[list[Candidate], str]:
    """All valid candidates for ``ctx``, best first; or none and the reason to abstain."""
    typ = base_type(ctx.exc_type)
    if typ in NOT_CODE_FIXABLE:
        return [], f"{ctx.exc_type}: {NOT_CODE_FIXABLE[typ]}"
    if not ctx.frames or not ctx.offered_files:
        return [], (
            f"{ctx.exc_type} is raised wholly inside library or runtime code: no in-app frame "
            "points at a repository file to change"
        )
    sites = locate_sites(ctx)
    broken = _unparsable(ctx)
    if not sites and broken:
        return [], (
            f"{', '.join(broken)} does not parse as Python (redacted or truncated source?): "
            "the failing line cannot be located"
        )
    if not sites:
        return [], (
            "the failing lines of the in-app frames were not found in the offered files "
            "(the code changed since the crash, or the frames are outside the repository)"
        )
    rule = choose_rule(typ, ctx.message)
    if rule is None:
        return [], f"no fix template for {ctx.exc_type}; the rules fixer only handles common crash classes"
    files = _parse_all(ctx, sites)
    found, reason = rule(typ, ctx.message, sites, files)
    valid = _valid_unique(found, files)
    if not valid:
        return [], f"{ctx.exc_type}: {reason or 'no candidate edit applies and parses'}"
    return valid, reason  # with candidates, a rule's reason notes what it chose not to offer


def _unparsable(ctx: FixContext) -> list[str]:
    out = []
    for path in ctx.offered_files:
        try:
            pyast.parse(ctx.files.get(path, ""))
        except (SyntaxError, ValueError):
            out.append(path)
    return out


def _parse_all(ctx: FixContext, sites: list[Site]) -> dict[str, Source]:
    files = {site.src.path: site.src for site in sites}
    for path, text in ctx.files.items():
        if path in files or not path.endswith(".py"):
            continue
        try:
            files[path] = Source(path, text, pyast.parse(text))
        except (SyntaxError, ValueError):
            continue
    # Definitions the context builder cut from files that are not offered (a class defined
    # elsewhere) help name lookups; they are never edit targets ("#n" keys are no repo path).
    for n, section in enumerate(ctx.sections):
        if section.path in files:
            continue
        text = textwrap.dedent(section.text)
        try:
            files[f"{section.path}#{n}"] = Source(section.path, text, pyast.parse(text))
        except (SyntaxError, ValueError):
            continue
    return files


def _valid_unique(found: list[Candidate], files: dict[str, Source]) -> list[Candidate]:
    seen: set[tuple[tuple[str, str, str], ...]] = set()
    ranked = sorted(enumerate(found), key=lambda p: (-p[1].score, p[0]))
    out: list[Candidate] = []
    for _, cand in ranked:
        key = tuple((e.path, e.search, e.replace) for e in cand.edits)
        if key in seen or not cand.edits or any(REDACTED in e.search for e in cand.edits):
            continue  # a search block holding a redaction marker can never match the real file
        if all(e.path in files and "#" not in e.path and apply_check(files[e.path], e) for e in cand.edits):
            seen.add(key)
            out.append(cand)
    return out


def to_proposal(candidate: Candidate) -> EditProposal:
    return EditProposal(
        edits=list(candidate.edits), root_cause=candidate.root_cause, summary=candidate.summary
    )


class RulesFixer:
    """``FixModel`` without a model: attempt N answers with the N-th ranked candidate."""

    @property
    def model_id(self) -> str:
        return MODEL_ID

    def candidates(self, context: FixContext) -> tuple[list[Candidate], str]:
        """Every candidate, best first, or none with the abstain reason."""
        return propose(context)

    def complete(self, prompt: Prompt) -> ModelReply:
        found, reason = propose(prompt.context)
        index = max(prompt.attempt, 1) - 1
        if index < len(found):
            text = render_proposal(to_proposal(found[index]))
            stop = "end_turn"
        else:
            if found:
                reason = (
                    f"all {len(found)} candidate fix(es) from the rules were tried; "
                    f"attempt {prompt.attempt} has none left" + (f"; not offered: {reason}" if reason else "")
                )
            text = render_proposal(EditProposal(abstain_reason=" ".join(reason.split())))
            stop = "abstain"
        return ModelReply(
            text=text,
            model_id=MODEL_ID,
            tokens_in=0,
            tokens_out=0,
            cost_usd=0.0,
            stop_reason=stop,
            latency_ms=0,
        )
