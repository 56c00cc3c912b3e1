"""``selfheal validate --repo PATH --edit FILE [--json]``: validate a reply file against a repository.

The reply is in the edit format (search/replace blocks). It is checked by every gate against
the repository at ``--revision`` (default HEAD) and its tests run in the sandbox, before and
after. By default every existing file the reply names counts as offered; ``--offer`` narrows
that to the files a fix may touch, as the workflow does. ``--reproduction`` adds a recorded
failing input (a script) that must fail before and pass after. Exit status 0 when the edit is
valid, 1 when a gate rejects it.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click

from selfheal.cli.common import UserPath, json_option
from selfheal.errors import EditRejected, ModelReplyMalformed, SourceNotFound


def _offered_from_reply(text: str) -> list[str]:
    from selfheal.domain.edit_format import START, normalise_path

    paths: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(START):
            raw = stripped[len(START):].strip()
            try:
                paths.append(normalise_path(raw))
            except EditRejected:
                continue  # the parser rejects it with its reason
    return list(dict.fromkeys(paths))


def _read_text(path: Path, option: str, what: str) -> str:
    """The UTF-8 text of the file ``option`` names; anything else is a usage mistake naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{path} is not UTF-8 text; give {what}", param_hint=option) from exc


@click.command("validate")
@click.option("--repo", "repo_path", required=True,
              type=UserPath(exists=True, file_okay=False, path_type=Path), help="The git repository.")
@click.option("--edit", "edit_file", required=True,
              type=UserPath(exists=True, dir_okay=False, path_type=Path),
              help="A reply in the edit format.")
@click.option("--revision", default="HEAD", show_default=True, help="The revision the edit applies to.")
@click.option("--offer", "offer", multiple=True, help="A file the edit may change (repeatable).")
@click.option("--test-command", default=None, help="Test command (default: from [tool.selfheal] or "
                                                   "'python -m pytest -x -q').")
@click.option("--timeout", type=float, default=None, help="Timeout of one test run, in seconds.")
@click.option("--reproduction", "repro_file", type=UserPath(exists=True, dir_okay=False, path_type=Path),
              help="A Python script that raises the error before the fix and exits 0 after it.")
@click.option("--error-type", default="", help="The error's exception type (a reproduction must show it).")
@json_option
@click.pass_context
def validate(ctx: click.Context, repo_path: Path, edit_file: Path, revision: str, offer: tuple[str, ...],
             test_command: str | None, timeout: float | None, repro_file: Path | None, error_type: str,
             as_json: bool) -> None:
    """Validate the edit in FILE against the repository: gates, tests before/after, reproduction.

    The edit format (what models reply; docs/usage.md has more): optional "ROOT CAUSE:" and
    "SUMMARY:" lines, then one block per change. The SEARCH text must occur exactly once in
    the file; an empty SEARCH creates a new test file.

    \b
        SUMMARY: read order_items with a default
        <<<<<<< SEARCH orders/handler.py
            items = event["order_items"]
        =======
            items = event.get("order_items", [])
        >>>>>>> REPLACE

    \b
    Example:
      selfheal validate --repo ~/src/orders --edit fix.txt
    """
    from selfheal.adapters.local_git import LocalGitRepository
    from selfheal.domain.edit_format import parse_reply
    from selfheal.domain.fixing import FixContext
    from selfheal.validation.render import print_report
    from selfheal.validation.service import validate_candidate

    text = _read_text(edit_file, "--edit", "a reply in the edit format")
    reproduction = _read_text(repro_file, "--reproduction", "a Python script") if repro_file else ""
    from selfheal.cli.common import cli_settings
    from selfheal.cli.state import git_toplevel

    explicit: dict[str, Any] = {"repo": repo_path, "test_timeout_seconds": timeout}
    if test_command is not None:
        explicit["test_command"] = shlex.split(test_command)
    settings = cli_settings(**explicit, need_git=True)
    repo = LocalGitRepository(git_toplevel(repo_path) or repo_path)  # --repo may name a folder inside it
    try:
        sha = repo.resolve(revision)
    except SourceNotFound as exc:
        raise click.BadParameter(f"{revision!r} is no commit of {repo.root}; give a branch, tag or commit",
                                 param_hint="--revision") from exc
    existing = set(repo.list_files(sha))
    offered = list(offer) or [p for p in _offered_from_reply(text) if p in existing]
    try:
        proposal = parse_reply(text, offered)
    except ModelReplyMalformed as exc:  # the file is not in the edit format: say how to write it
        raise click.BadParameter(f"{edit_file}: {exc}; see the edit format in docs/usage.md",
                                 param_hint="--edit") from exc
    context = FixContext(fingerprint="cli", exc_type=error_type, message="", revision=sha,
                         offered_files=offered, reproduction=reproduction)
    if as_json:
        report = validate_candidate(repo, sha, context, proposal, settings)
        from selfheal.cli.output import echo_json

        echo_json(report.model_dump(mode="json"))
    else:
        from rich.console import Console

        err = Console(stderr=True)
        with err.status(f"validating {edit_file.name} against {sha[:12]} ...", spinner="dots"):
            report = validate_candidate(repo, sha, context, proposal, settings)
        print_report(report, Console(file=sys.stdout))
    if not report.valid:
        ctx.exit(1)
