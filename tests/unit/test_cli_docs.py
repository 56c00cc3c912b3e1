"""Every command is documented (README's command table) and its ``--help`` ends with an
example; shell completion works as the README says; the demo's hints name a runnable command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from selfheal.cli import LAZY_COMMANDS, cli
from selfheal.cli.common import selfheal_command

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
USAGE = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")


def all_commands() -> Iterator[tuple[list[str], click.Command]]:
    ctx = click.Context(cli)
    for name in LAZY_COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        yield [name], command
        if isinstance(command, click.Group):
            for sub, subcommand in command.commands.items():
                yield [name, sub], subcommand


COMMANDS = list(all_commands())


def test_the_walk_sees_every_command() -> None:
    paths = {" ".join(p) for p, _ in COMMANDS}
    assert {"errors list", "errors show", "executions show", "executions list", "prs close", "prs sync",
            "watch", "validate", "demo"} <= paths


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in COMMANDS])
def test_every_command_help_has_an_example(path: str) -> None:
    result = CliRunner().invoke(cli, [*path.split(), "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    example = result.output.split("Example:", 1)
    assert len(example) == 2, result.output
    assert f"selfheal {path}" in example[1], result.output  # the example runs this very command


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p))
def test_every_command_is_in_the_readme_table(path: list[str]) -> None:
    rows = [line for line in README.splitlines() if line.startswith(f"| `selfheal {path[0]}")]
    assert rows, f"no README row for selfheal {path[0]}"
    if len(path) == 2:
        assert any(re.search(rf"(?<![\w-]){re.escape(path[1])}(?![\w-])", row) for row in rows), path


def test_exit_codes_are_documented_where_they_are_defined() -> None:
    from selfheal.cli.common import ExitCode

    help_text = CliRunner().invoke(cli, ["--help"], terminal_width=200).output
    for code in ExitCode:
        assert f"| {int(code)} |" in USAGE
        assert f"{int(code)} " in help_text


def test_bash_completion_lists_commands_and_subcommands() -> None:
    me = Path(sys.executable).with_name("selfheal")
    env = {**os.environ, "_SELFHEAL_COMPLETE": "bash_complete", "COMP_WORDS": "selfheal errors s",
           "COMP_CWORD": "2"}
    out = subprocess.run([str(me)], env=env, capture_output=True, text=True, timeout=60)
    assert "plain,show" in out.stdout.splitlines(), out.stdout + out.stderr
    assert '_SELFHEAL_COMPLETE=bash_source' in README


def test_hints_name_a_command_that_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # `selfheal` is not on PATH after the README's install line
    hint = selfheal_command()
    assert hint == str(Path(sys.executable).with_name("selfheal")) and Path(hint).is_file()
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert selfheal_command() == "selfheal"


def test_model_grammar_is_stated_once_and_the_docs_agree() -> None:
    from selfheal.compose.models import MODEL_SPECS

    row = next(line for line in (ROOT / "docs" / "configuration.md").read_text().splitlines()
               if line.startswith("| `model` |"))
    for form in MODEL_SPECS.split(" | "):
        assert f"`{form}`" in row, form
    for path in (["fix"], ["redrive"], ["watch"], ["demo"]):
        text = CliRunner().invoke(cli, [*path, "--help"], terminal_width=300).output
        assert " ".join(MODEL_SPECS.split()) in " ".join(text.split()), path
