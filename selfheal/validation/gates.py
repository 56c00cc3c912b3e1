"""The static validation gates, cheapest first. Each returns a ``GateResult`` with its evidence.

Order (``selfheal.validation.service`` stops at the first failure): non_empty → allowed_files →
inside_repo → deny_list → size → no_test_deletion → applies → parses → lint. The test gates
(tests, reproduction) live in ``testrun``/``repro``. Every gate treats the proposal as hostile.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from pyflakes import checker as pyflakes_checker  # type: ignore[import-untyped]
from pyflakes import messages as pyflakes_messages

from selfheal.domain import pyast
from selfheal.domain.edit_format import apply_proposal, is_test_path, normalise_path
from selfheal.domain.fixing import EditProposal
from selfheal.domain.validation_report import GateResult
from selfheal.errors import EditRejected, PatchDoesNotApply

# Paths an automated fix never touches, whatever the model or the log says. A pattern ending in
# "/" denies a directory anywhere in the path; a pattern with "/" matches the whole path; any
# other pattern matches a single path component (so "Dockerfile" also denies "svc/Dockerfile").
DEFAULT_DENY_PATTERNS: tuple[str, ...] = (
    # version control and CI
    ".git", ".git/", ".hg/", ".svn/", ".gitmodules", ".github/", ".gitlab-ci.yml", ".gitlab/", ".circleci/",
    "Jenkinsfile",
    ".travis.yml", "azure-pipelines.yml", ".buildkite/", "bitbucket-pipelines.yml", ".pre-commit-config.yaml",
    "CODEOWNERS",
    # build, packaging and test configuration (could switch tests off or pull in code)
    "pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "pytest.ini", "noxfile.py", "Makefile",
    # infrastructure
    "template.yaml", "template.yml", "samconfig.toml", "*.tf", "*.tfvars", "*.tfstate", "cdk.json",
    "cdk.context.json", "Dockerfile", "Dockerfile.*", "*.dockerfile", "docker-compose*.yml",
    "docker-compose*.yaml", "serverless.yml", "serverless.yaml", "Chart.yaml", "buildspec.yml",
    "appspec.yml", "Procfile",
    # dependency locks and pins
    "poetry.lock", "uv.lock", "requirements*.txt", "constraints*.txt", "Pipfile", "Pipfile.lock",
    "pdm.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock", "go.sum",
    # secrets and credentials
    ".env", ".env.*", ".envrc", "*.pem", "*.key", "*.crt", "*.p12", "*.pfx", "*.jks", "*.kdbx",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".ssh/", ".aws/", ".netrc", ".npmrc", ".pypirc",
    "credentials.json", "credentials.y*ml", "credentials.ini", "credentials.csv", "secrets.y*ml",
    "secrets.json", "secrets.toml", ".secrets/",
    # our own state
    ".selfheal/",
)

_NEW_FILE_FORBIDDEN = ("conftest.py", "__init__.py")
# pyflakes findings that mean the code is broken at import or at run time (not style).
FATAL_LINT_KINDS: frozenset[str] = frozenset(name for name in (
    "UndefinedName", "UndefinedExport", "UndefinedLocal", "DuplicateArgument", "ReturnOutsideFunction",
    "YieldOutsideFunction", "ContinueOutsideLoop", "BreakOutsideLoop", "DefaultExceptNotLast",
    "TwoStarredExpressions", "TooManyExpressionsInStarredAssignment", "ForwardAnnotationSyntaxError",
    "FutureFeatureNotDefined", "LateFutureImport", "ImportStarNotPermitted", "InvalidPrintSyntax",
    "RaiseNotImplemented", "PercentFormatInvalidFormat", "PercentFormatMixedPositionalAndNamed",
    "PercentFormatUnsupportedFormatCharacter", "PercentFormatPositionalCountMismatch",
    "PercentFormatMissingArgument", "PercentFormatExpectedMapping", "PercentFormatExpectedSequence",
    "PercentFormatStarRequiresSequence", "StringDotFormatInvalidFormat", "StringDotFormatMissingArgument",
    "StringDotFormatMixingAutomatic", "MultiValueRepeatedKeyVariable",
) if hasattr(pyflakes_messages, name))


def _timed(result: GateResult, started: float) -> GateResult:
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def _paths(proposal: EditProposal) -> list[str]:
    return list(dict.fromkeys(e.path for e in proposal.edits))


def _new_paths(proposal: EditProposal) -> set[str]:
    return {e.path for e in proposal.edits if e.search == ""}


# --- cheap, text-only gates ------------------------------------------------------------------


def non_empty(proposal: EditProposal) -> GateResult:
    """The proposal changes something (no abstention, no block whose replacement equals its search)."""
    t = time.monotonic()
    if proposal.abstained:
        return _timed(GateResult(gate="non_empty", passed=False,
                                 detail=f"the model abstained: {proposal.abstain_reason}"), t)
    real = [e for e in proposal.edits if e.search != e.replace]
    if not real:
        return _timed(GateResult(gate="non_empty", passed=False, detail="the edit changes nothing",
                                 evidence={"blocks": len(proposal.edits)}), t)
    return _timed(GateResult(gate="non_empty", passed=True, detail=f"{len(real)} changing block(s)",
                             evidence={"blocks": len(proposal.edits), "files": _paths(proposal)}), t)


def allowed_files(proposal: EditProposal, offered: Iterable[str]) -> GateResult:
    """Only offered files change, plus new test modules (never a new conftest.py or __init__.py)."""
    t = time.monotonic()
    offered_set: set[str] = set()
    for p in offered:
        try:
            offered_set.add(normalise_path(p))
        except EditRejected:
            continue
    bad: list[str] = []
    for edit in proposal.edits:
        path = edit.path.replace("\\", "/")
        if path in offered_set:
            continue
        name = PurePosixPath(path).name
        if edit.search == "" and is_test_path(path) and name not in _NEW_FILE_FORBIDDEN:
            continue
        bad.append(path)
    if bad:
        return _timed(GateResult(
            gate="allowed_files", passed=False,
            detail=f"not allowed to change {', '.join(sorted(set(bad)))}: only the offered files "
                   f"({', '.join(sorted(offered_set)) or 'none'}) and new test modules may change",
            evidence={"rejected": sorted(set(bad)), "offered": sorted(offered_set)}), t)
    evidence = {"files": _paths(proposal), "new_files": sorted(_new_paths(proposal))}
    return _timed(GateResult(gate="allowed_files", passed=True, detail="only offered files and new tests",
                             evidence=evidence), t)


def app_code(proposal: EditProposal) -> GateResult:
    """The edit changes application code: an edit of tests alone is never a fix."""
    t = time.monotonic()
    app = sorted({e.path for e in proposal.edits if e.search != e.replace and not is_test_path(e.path)
                  and PurePosixPath(e.path).name != "conftest.py"})
    if not app:
        return _timed(GateResult(gate="app_code", passed=False,
                                 detail="the edit changes no application code (only tests): "
                                        "that is never a fix",
                                 evidence={"files": _paths(proposal)}), t)
    return _timed(GateResult(gate="app_code", passed=True, detail=f"changes {', '.join(app)}",
                             evidence={"files": app}), t)


def inside_repo(proposal: EditProposal, tree: Path | None = None) -> GateResult:
    """Every path is relative, has no ``..``, and (given the checked-out ``tree``) reaches a
    regular file through real directories: no symlink on the way, none at the end."""
    t = time.monotonic()
    problems: dict[str, str] = {}
    for edit in proposal.edits:
        try:
            norm = normalise_path(edit.path)
        except EditRejected as exc:
            problems[edit.path] = str(exc)
            continue
        if norm != edit.path:
            problems[edit.path] = f"path is not in canonical form (means {norm!r})"
            continue
        if tree is not None:
            why = symlink_problem(tree, norm)
            if why:
                problems[edit.path] = why
    if problems:
        return _timed(GateResult(gate="inside_repo", passed=False,
                                 detail="; ".join(f"{p}: {why}" for p, why in problems.items()),
                                 evidence={"problems": problems, "checked_tree": tree is not None}), t)
    return _timed(GateResult(gate="inside_repo", passed=True, detail="every path stays inside the repository",
                             evidence={"checked_tree": tree is not None}), t)


def symlink_problem(tree: Path, rel: str) -> str | None:
    """Why writing ``rel`` inside ``tree`` would not land on a regular in-tree file, or None."""
    root = tree.resolve()
    current = root
    parts = rel.split("/")
    for i, part in enumerate(parts):
        current = current / part
        last = i == len(parts) - 1
        if current.is_symlink():
            target = current.resolve()
            where = "outside the repository" if not target.is_relative_to(root) else "inside the repository"
            kind = "the file" if last else f"directory {'/'.join(parts[:i + 1])!r}"
            return f"{kind} is a symlink to {where}; edits must reach regular files through real directories"
        if not current.exists():
            return None  # a new file (or new directories): nothing further to follow
        if not last and not current.is_dir():
            return f"{'/'.join(parts[:i + 1])!r} is not a directory"
        if last and not current.is_file():
            return "not a regular file"
    if not current.resolve().is_relative_to(root):
        return "resolves outside the repository"
    return None


def _denied_by(path: str, patterns: Iterable[str]) -> str | None:
    # Case-insensitive: on macOS and Windows ".GitHub/Workflows/ci.yml" is the CI file.
    path = path.lower()
    parts = PurePosixPath(path).parts
    for pattern in patterns:
        pat = pattern.strip().lower()
        if not pat:
            continue
        if pat.endswith("/"):
            name = pat.rstrip("/")
            if any(fnmatch.fnmatchcase(p, name) for p in parts[:-1]):
                return pattern
        elif "/" in pat:
            if fnmatch.fnmatchcase(path, pat.lstrip("/")):
                return pattern
        elif any(fnmatch.fnmatchcase(p, pat) for p in parts):
            return pattern
    return None


def deny_list(proposal: EditProposal, extra_patterns: Sequence[str] = ()) -> GateResult:
    """No CI config, infrastructure, lock files, secrets, or ``settings.deny_paths`` globs."""
    t = time.monotonic()
    patterns = (*DEFAULT_DENY_PATTERNS, *extra_patterns)
    hits = {p: pat for p in _paths(proposal) if (pat := _denied_by(p, patterns))}
    if hits:
        return _timed(GateResult(gate="deny_list", passed=False,
                                 detail="; ".join(f"{p} is denied (matches {pat!r})"
                                                  for p, pat in hits.items()),
                                 evidence={"denied": hits}), t)
    return _timed(GateResult(gate="deny_list", passed=True, detail="no denied path",
                             evidence={"extra_patterns": list(extra_patterns)}), t)


def size(proposal: EditProposal, max_bytes: int) -> GateResult:
    """The edit (search plus replace text of every block, UTF-8) stays under ``max_bytes``."""
    t = time.monotonic()
    total = sum(len(e.search.encode()) + len(e.replace.encode()) for e in proposal.edits)
    ok = total <= max_bytes
    return _timed(GateResult(gate="size", passed=ok,
                             detail=f"{total} bytes (limit {max_bytes})" if ok else
                             f"the edit is {total} bytes; the limit is {max_bytes}",
                             evidence={"bytes": total, "limit": max_bytes}), t)


# --- gates that need the current file text ----------------------------------------------------


def no_test_deletion(proposal: EditProposal, before: dict[str, str]) -> GateResult:
    """No test function is removed, no assertion dropped, no skip/xfail added in a test file."""
    from selfheal.validation.testguard import compare_test_files

    t = time.monotonic()
    try:
        after = apply_proposal(before, proposal)
    except PatchDoesNotApply:
        after = None
    problems = compare_test_files(before, after, proposal)
    if problems:
        return _timed(GateResult(gate="no_test_deletion", passed=False,
                                 detail="the edit deletes or weakens tests: " + "; ".join(problems[:10]),
                                 evidence={"problems": problems}), t)
    return _timed(GateResult(gate="no_test_deletion", passed=True, detail="no test removed or weakened"), t)


def applies(proposal: EditProposal, before: dict[str, str]) -> tuple[GateResult, dict[str, str]]:
    """Apply the blocks in memory; return the verdict and the changed files' new text."""
    t = time.monotonic()
    try:
        changed = apply_proposal(before, proposal)
    except PatchDoesNotApply as exc:
        return _timed(GateResult(gate="applies", passed=False, detail=str(exc)), t), {}
    if not changed:
        return _timed(GateResult(gate="applies", passed=False,
                                 detail="applying the edit changes no file"), t), {}
    return _timed(GateResult(gate="applies", passed=True, detail=f"{len(changed)} file(s) changed",
                             evidence={"changed": sorted(changed)}), t), changed


def _data_error(path: str, text: str) -> str | None:
    """A syntax error in a changed JSON/TOML/YAML file, or None (other files are not checked)."""
    suffix = PurePosixPath(path).suffix.lower()
    try:
        if suffix == ".json":
            json.loads(text)
        elif suffix == ".toml":
            tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            list(yaml.safe_load_all(text))
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        return str(exc).splitlines()[0]
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and friends: report, never crash
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def parses(changed: dict[str, str]) -> GateResult:
    """Every changed ``.py`` file is valid Python (``ast.parse``); JSON/TOML/YAML files load."""
    t = time.monotonic()
    errors: dict[str, str] = {}
    for path, text in changed.items():
        if not path.endswith(".py"):
            problem = _data_error(path, text)
            if problem:
                errors[path] = problem
            continue
        try:
            pyast.parse(text, filename=path)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            msg = getattr(exc, "msg", str(exc))
            errors[path] = f"line {line}: {msg}" if line else str(msg)
    if errors:
        return _timed(GateResult(gate="parses", passed=False,
                                 detail="; ".join(f"{p}: {e}" for p, e in errors.items()),
                                 evidence={"syntax_errors": errors}), t)
    return _timed(GateResult(gate="parses", passed=True, detail="every changed file parses"), t)


def fatal_findings(text: str, path: str) -> list[tuple[str, str, int]]:
    """pyflakes findings of the fatal kinds: (kind, message, line). Unparsable text: none."""
    try:
        tree = pyast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return []
    found = pyflakes_checker.Checker(tree, filename=path)
    out: list[tuple[str, str, int]] = []
    for m in found.messages:
        kind = type(m).__name__
        if kind in FATAL_LINT_KINDS:
            out.append((kind, m.message % m.message_args, int(getattr(m, "lineno", 0))))
    return out


def _lint_key(kind: str, message: str) -> tuple[str, str]:
    # Compare by kind and the names in the message, not by line numbers that the edit shifts.
    return kind, re.sub(r"\bline \d+\b|:\d+\b", "", message)


def lint(before: dict[str, str], changed: dict[str, str]) -> GateResult:
    """No NEW fatal pyflakes finding in any changed ``.py`` file (existing ones don't count)."""
    t = time.monotonic()
    new: list[dict[str, object]] = []
    for path, text in changed.items():
        if not path.endswith(".py"):
            continue
        old = Counter(_lint_key(k, m) for k, m, _ in fatal_findings(before.get(path, ""), path))
        for kind, message, line in fatal_findings(text, path):
            key = _lint_key(kind, message)
            if old[key] > 0:
                old[key] -= 1
                continue
            new.append({"file": path, "line": line, "kind": kind, "message": message})
    if new:
        return _timed(GateResult(gate="lint", passed=False,
                                 detail="; ".join(f"{f['file']}:{f['line']}: {f['message']}"
                                                  for f in new[:10]),
                                 evidence={"new_findings": new}), t)
    return _timed(GateResult(gate="lint", passed=True, detail="no new fatal lint findings"), t)
