"""The README's and docs/usage.md's commands do what they say: the "Use it on your own service"
commands run as written (paths swapped for the bundled sample service and its log) through the
installed ``selfheal`` script, the ``[tool.selfheal]`` example loads, and the transcript of
mistakes in docs/usage.md is exactly what the CLI prints."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.cli import main
from selfheal.cli.state import DEFAULT_DIR, state_root
from selfheal.domain.records import Observation

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
USAGE = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
SELFHEAL = Path(sys.executable).with_name("selfheal")
SAMPLE_LOG, SAMPLE_REPO, SAMPLE_ID = "/var/log/orders/app.log", "~/src/orders", "97d0ea50"


def fenced_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end != -1 else None]


def own_service_commands() -> list[list[str]]:
    """The README's "Use it on your own service" commands, comments dropped, as argv lists."""
    block = fenced_blocks(section(README, "## Use it on your own service"), "bash")[0]
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        assert words[0] == ".venv/bin/selfheal", line  # written for the README's install line
        commands.append(words[1:])
    return commands


def test_the_readme_names_the_commands_it_claims() -> None:
    names = [" ".join(w for w in c if not w.startswith(("/", "~", "-")) and w != SAMPLE_ID)
             for c in own_service_commands()]
    assert names == ["ingest", "errors", "errors show", "fix", "prs", "watch"]


def test_the_readme_tool_selfheal_example_loads(tmp_path: Path) -> None:
    from selfheal.settings import load_settings

    toml = next(b for b in fenced_blocks(README, "toml") if "[tool.selfheal]" in b)
    (tmp_path / "pyproject.toml").write_text(toml)
    settings = load_settings({"repo": tmp_path}, env={})
    assert settings.test_command == ["python", "-m", "pytest", "-q"]


@pytest.fixture()
def sample(tmp_path: Path) -> tuple[Path, Path]:
    """The bundled orders service, crashed over its recorded requests: (repository, its log)."""
    from selfheal.compose.demo import LOG, prepare_sample, run_service

    repo = prepare_sample(tmp_path / "src")
    run_service(repo)
    return repo, repo / LOG


def test_the_readme_own_service_commands_run_as_written(sample: tuple[Path, Path], tmp_path: Path) -> None:
    repo, log = sample
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    elsewhere = tmp_path / "elsewhere"  # not the repository: every command names it with --repo
    elsewhere.mkdir()
    key_error = ""
    for words in own_service_commands():
        argv = [str(log) if w == SAMPLE_LOG else str(repo) if w == SAMPLE_REPO
                else (key_error or w) if w == SAMPLE_ID else w for w in words]
        if argv[0] == "watch":  # runs until Ctrl-C: start it, then interrupt it like a user
            proc = subprocess.Popen([str(SELFHEAL), *argv], cwd=elsewhere, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert proc.stdout is not None
            first = proc.stdout.readline()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=600)
            assert first.startswith("watching ") and proc.returncode == 0, (first, out, err)
            assert "stopped: " in out
            # the clean stop waited for every fix it started; concurrent fixes do not break each
            # other (CPython 3.11's AST converter is not thread-safe: selfheal.domain.pyast)
            ended = re.findall(r"fix \S+ ended: (\w+)", out)
            assert ended and "FAILED" not in ended, out
            continue
        done = subprocess.run([str(SELFHEAL), *argv], cwd=elsewhere, env=env, text=True,
                              capture_output=True, timeout=600)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        if argv[0] == "ingest":
            key_error = _id_of(repo, env, "KeyError")
            assert f"new error {key_error}" in done.stdout
        elif argv[0] == "fix":
            assert "PR_OPEN" in done.stdout and f"selfheal/{key_error}" in done.stdout
        elif argv[0] == "prs":
            assert f"selfheal/{key_error}" in done.stdout
        else:
            assert key_error in done.stdout
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout == ""  # nothing written into the user's repository


def _id_of(repo: Path, env: dict[str, str], exc_type: str) -> str:
    import json

    listing = subprocess.run([str(SELFHEAL), "errors", "--repo", str(repo), "--json"], env=env, text=True,
                             capture_output=True, check=True, timeout=120).stdout
    return next(str(e["fingerprint"])[:12] for e in json.loads(listing) if e["exc_type"] == exc_type)


def test_the_usage_transcript_of_mistakes_is_what_the_cli_prints(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for name in list(os.environ):
        if name.startswith("SELFHEAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)  # not a repository: the default store
    store = SqliteErrorStore(state_root() / DEFAULT_DIR / "errors.db")
    for fp in ("97d0ea50ac2e" + "0" * 20, "97d91c0d11aa" + "0" * 20):  # "two errors whose ids start with 97d"
        store.observe(Observation(fingerprint=fp, exc_type="KeyError", message="'k'"))
    lines = fenced_blocks(section(USAGE, "### What the commands print"), "console")[0].splitlines()
    pairs = [(lines[i], lines[i + 1]) for i in range(0, len(lines), 2)]
    assert len(pairs) >= 4 and all(cmd.startswith("$ ") for cmd, _ in pairs)
    for command, expected in pairs:
        words = shlex.split(command[2:])
        while "=" in words[0]:
            name, value = words.pop(0).split("=", 1)
            monkeypatch.setenv(name, value)
        assert words[0] == ".venv/bin/selfheal", command
        with pytest.raises(SystemExit) as info:
            main(words[1:])
        assert info.value.code != 0, command
        assert capsys.readouterr().err.strip() == expected, command
        for name in [n for n in os.environ if n.startswith("SELFHEAL_")]:
            monkeypatch.delenv(name)
