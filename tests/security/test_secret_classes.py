"""Each secret class, written by the service into its log (message and the frame's source line),
appears neither in the store, nor in the CLI, nor in a prompt, nor in a pull request body; and
log text with rich markup prints literally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from selfheal.adapters.local_git import LocalGitRepository
from selfheal.cli import cli
from selfheal.compose.store import build_ingest_service, build_local_store
from selfheal.domain.context import build_context
from selfheal.domain.pr_body import PrBodyInput, render_pr_body
from selfheal.domain.prompt import build_prompt
from selfheal.settings import load_settings
from tests.support.git_repos import make_work_repo

SECRETS = {
    "aws-access-key": "AKIAIOSFODNN7EXAMPLE",
    "url-password": "hunter2hunter2",
    "card (spaced)": "4111 1111 1111 1111",
    "card (dashed)": "5500-0000-0000-0004",
    "card (plain)": "378282246310005",
    "email": "ops.lead@example.com",
    "github-token": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
}
SOURCE_LINE = (
    '    conn = connect("postgres://admin:hunter2hunter2@db/x", key="AKIAIOSFODNN7EXAMPLE", '
    'card="5500-0000-0000-0004")'
)
HANDLER = f"""def handle(event):
{SOURCE_LINE}
    return conn.run(event)
"""
MESSAGE = (
    "charge failed for 4111 1111 1111 1111 (amex 378282246310005) of ops.lead@example.com, token "
    + SECRETS["github-token"]
)
MARKUP = "[link=https://evil.example/phish]docs[/link] [bold red]ALERT[/]"
LOG = f"""Traceback (most recent call last):
  File "/var/task/app/handler.py", line 2, in handle
{SOURCE_LINE}
RuntimeError: {MESSAGE} {MARKUP}
"""
SHORT_MARKUP = "[bold red]ALERT[/] [link=https://e.x]d[/link]"
MARKUP_LOG = f"""Traceback (most recent call last):
  File "/var/task/app/handler.py", line 3, in handle
    return conn.run(event)
ValueError: {SHORT_MARKUP}
"""


@pytest.fixture
def ingested(tmp_path: Path) -> tuple[Path, Path, str]:
    repo = make_work_repo(tmp_path / "repo", files={"app/__init__.py": "", "app/handler.py": HANDLER})
    home = tmp_path / "home"
    settings = load_settings({"home": home, "repo": repo}, env={})
    service = build_ingest_service(settings, build_local_store(settings))
    report = service.ingest_lines(LOG.splitlines(), "app.log")
    assert len(report.new) == 1
    assert len(service.ingest_lines(MARKUP_LOG.splitlines(), "app.log").new) == 1
    return repo, home, str(report.new[0])


def _leaks(text: str) -> list[str]:
    return [kind for kind, value in SECRETS.items() if value in text]


def test_nothing_secret_is_stored(ingested: tuple[Path, Path, str]) -> None:
    repo, home, fp = ingested
    record = build_local_store(load_settings({"home": home, "repo": repo}, env={})).get(fp)
    assert record is not None
    assert record.frames and record.frames[0].source, "the frame's source line is stored"
    stored = record.model_dump_json()
    assert _leaks(stored) == []
    assert "[REDACTED:card-number]" in record.message
    assert "[REDACTED:card-number]" in (record.frames[0].source or "")
    raw = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert _leaks(raw.decode("utf-8", "replace")) == []


def test_nothing_secret_in_the_cli_and_markup_prints_literally(ingested: tuple[Path, Path, str]) -> None:
    _repo, home, fp = ingested
    runner = CliRunner()
    listing = runner.invoke(cli, ["errors", "--home", str(home)], env={"COLUMNS": "400"})
    shown = runner.invoke(cli, ["errors", "show", fp[:12], "--home", str(home)], env={"COLUMNS": "400"})
    as_json = runner.invoke(cli, ["errors", "show", fp[:12], "--home", str(home), "--json"])
    for result in (listing, shown, as_json):
        assert result.exit_code == 0, result.output
        assert _leaks(result.output) == []
    assert json.loads(as_json.output)["frames"][0]["source"]
    # rich would turn these into a link and a style, and swallow the brackets
    assert "[link=https://evil.example/phish]docs[/link]" in shown.output.replace("\n", "")
    assert "[bold red]ALERT[/]" in shown.output.replace("\n", "")
    assert SHORT_MARKUP in listing.output, listing.output


def test_nothing_secret_in_the_prompt_or_the_pull_request(ingested: tuple[Path, Path, str]) -> None:
    repo, home, fp = ingested
    settings = load_settings({"home": home, "repo": repo}, env={})
    record = build_local_store(settings).get(fp)
    assert record is not None
    context = build_context(record, LocalGitRepository(repo), settings=settings)
    feedback = "the test failed:\n" + LOG
    prompt = build_prompt(context, 2, feedback, settings)
    assert "def handle" in prompt.user
    assert _leaks(prompt.system + prompt.user) == []
    body = render_pr_body(
        PrBodyInput(
            record=record,
            root_cause=f"leaked {MESSAGE}",
            summary=SOURCE_LINE,
            original={"app/handler.py": HANDLER},
            updated={"app/handler.py": HANDLER + f"# {MESSAGE}\n"},
        )
    )
    assert _leaks(body) == []
