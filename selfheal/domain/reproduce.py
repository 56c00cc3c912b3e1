"""From an error and its recorded inputs to what a fix must prove: the replay, its regression
test and the repository's test pattern (the ``FixContext`` fields they fill).

Nothing here runs code: ``selfheal.validation.repro`` runs the replay before and after a patch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from selfheal.domain.capture import CapturedInput, redact_event
from selfheal.domain.fixing import EditProposal, FixContext, SearchReplace
from selfheal.domain.records import ErrorRecord
from selfheal.domain.redact import Redactor
from selfheal.domain.replay import entry_point, import_root, regression_test, reproduction_script
from selfheal.domain.test_pattern import find_test_pattern


def reproduction_fields(record: ErrorRecord, inputs: Sequence[CapturedInput],
                        mapped: Sequence[tuple[int, str]], repo_files: Sequence[str],
                        read: Callable[[str], str | None], redactor: Redactor) -> dict[str, Any]:
    """``FixContext`` updates for ``record``. ``mapped``: (index in ``record.frames``, repository
    path) of each mapped in-app frame; the replay needs the outermost frame (index 0) mapped."""
    packages = sorted({import_root(path, repo_files)[1].split(".")[0] for _, path in mapped})
    out: dict[str, Any] = {}
    pattern = find_test_pattern(repo_files, read, packages)
    short_id = record.fingerprint[:12]
    if pattern is not None:
        out.update(test_pattern_path=pattern.path, test_pattern=redactor.redact(pattern.text),
                   test_imports=pattern.imports)
    path = pattern.new_test_path(short_id) if pattern is not None else f"tests/test_selfheal_{short_id}.py"
    stem, taken, n = path.removesuffix(".py"), set(repo_files), 2
    while path in taken:  # a regression after an earlier fix that shipped its own test
        path, n = f"{stem}_{n}.py", n + 1
    out["new_test_path"] = path
    events = [e for e in (redact_event(c.event, redactor) for c in inputs if not c.truncated) if e]
    out["recorded_inputs"] = events
    outer = next((path for index, path in mapped if index == 0), None)
    if not events or outer is None or not record.frames:
        return out
    source = read(outer)
    entry = entry_point(outer, record.frames[0].function, source or "", repo_files)
    if entry is None:
        return out
    inner = record.frames[-1]
    out.update(
        entry=entry.dotted,
        reproduction=reproduction_script(entry, events, record.exc_type, inner.file, inner.function or ""),
        regression_test_path=out["new_test_path"],
        regression_test=regression_test(entry, events, record.exc_type, short_id,
                                         unittest_style=pattern is not None and pattern.unittest_style),
    )
    return out


def with_regression_test(proposal: EditProposal, context: FixContext) -> EditProposal:
    """``proposal`` plus the replay's regression test as a new test module, so validation runs it
    before and after the patch and the pull request ships it (unchanged when there is none, the
    model abstained, or the edit already writes that path)."""
    path = context.regression_test_path
    if proposal.abstained or not context.regression_test or not path or not proposal.edits:
        return proposal
    if any(e.path == path for e in proposal.edits):
        return proposal
    test = SearchReplace(path=path, search="", replace=context.regression_test)
    return proposal.model_copy(update={"edits": [*proposal.edits, test]})
