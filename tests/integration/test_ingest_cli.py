"""``selfheal ingest`` and ``selfheal errors`` against a real SQLite file (in-process and as
real subprocesses for --follow, SELFHEAL_HOME and error messages)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.cli import cli
from selfheal.domain.records import StepRecord
from tests.support.tracking_logs import log_lines

SELFHEAL = [sys.executable, "-c", "from selfheal.cli import main; main()"]


def write_log(path: Path, errors: int = 3, occurrences: int = 4) -> Path:
    path.write_text("\n".join(log_lines(errors, occurrences)) + "\n", encoding="utf-8")
    return path


def invoke(args: list[str], input: str | None = None) -> Result:
    """Run the CLI in-process with a wide terminal (tables do not wrap)."""
    return CliRunner(env={"COLUMNS": "220"}).invoke(cli, args, input=input, catch_exceptions=False)


def run(*args: str, input: str | None = None) -> Any:
    result = invoke(list(args), input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_ingest_again_counts_only_what_was_appended(tmp_path: Path) -> None:
    log = write_log(tmp_path / "app.log")
    home = str(tmp_path / "home")
    first = run("ingest", str(log), "--home", home, "--json")
    assert (first["tracebacks"], first["distinct"], len(first["new"])) == (12, 3, 3)
    assert first["read_from"] == 0
    second = run("ingest", str(log), "--home", home, "--json")  # nothing new: no count changes
    assert (second["tracebacks"], second["new"], second["read_from"]) == (0, [], log.stat().st_size)
    assert sorted(e["count"] for e in run("errors", "--home", home, "--json")) == [4, 4, 4]
    with log.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(log_lines(2, 1)) + "\n")
    third = run("ingest", str(log), "--home", home, "--json")
    assert (third["tracebacks"], third["new"]) == (2, [])
    assert sorted(e["count"] for e in run("errors", "--home", home, "--json")) == [4, 5, 5]
    again = run("ingest", str(log), "--home", home, "--json", "--from-start")  # re-read on purpose
    assert again["tracebacks"] == 14 and again["read_from"] == 0
    assert sorted(e["count"] for e in run("errors", "--home", home, "--json")) == [8, 10, 10]
    assert (tmp_path / "home" / "errors.db").is_file()


def test_ingest_from_stdin_and_table_output(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    text = "\n".join(log_lines(2, 2))
    result = invoke(["ingest", "-", "--home", home], input=text)
    assert result.exit_code == 0 and "new error" in result.output
    table = invoke(["errors", "--home", home])
    assert "KeyError" in table.output and "ValueError" in table.output and "NEW" in table.output


def test_errors_show_status_changes_and_prefix(tmp_path: Path) -> None:
    home = tmp_path / "home"
    new = run("ingest", str(write_log(tmp_path / "a.log", 2, 1)), "--home", str(home), "--json")["new"]
    fp = new[0]
    store = SqliteErrorStore(home / "errors.db")
    store.transition(fp, "FIXING")  # type: ignore[arg-type]
    store.start_attempt(fp, "arn:exec:1")
    store.record_step(fp, 1, StepRecord(state="ValidatePatch", started_at=datetime.now(UTC), outcome="failed",
                                        error="PatchDoesNotApply"))
    store.finish_attempt(fp, 1, outcome="abstained", reasons=["tests still fail"])
    shown = run("errors", "--home", str(home), "show", fp[:6], "--json")  # group-level --home
    assert shown["fingerprint"] == fp and shown["sample_trace"].startswith("Traceback")
    assert shown["attempts"][0]["reasons"] == ["tests still fail"]
    assert shown["attempts"][0]["steps"][0]["error"] == "PatchDoesNotApply"
    text = invoke(["errors", "show", fp[:8], "--home", str(home)])
    assert "ValidatePatch: failed" in text.output and "tests still fail" in text.output
    assert "sample trace:" in text.output
    invoke(["errors", "ignore", fp[:8], "--home", str(home)])
    ignored = run("errors", "--status", "IGNORED", "--home", str(home), "--json")
    assert [e["fingerprint"] for e in ignored] == [fp]
    other = new[1]
    out = invoke(["errors", "resolve", other, "--home", str(home)])
    assert "is now RESOLVED" in out.output
    again = run("ingest", str(tmp_path / "a.log"), "--home", str(home), "--json", "--from-start")
    assert again["regressed"] == [other]
    out = invoke(["errors", "queue", other[:10], "--home", str(home)])
    assert "is now QUEUED" in out.output


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "SELFHEAL_HOME": str(tmp_path / "home")}
    write_log(tmp_path / "a.log", 1, 1)
    subprocess.run([*SELFHEAL, "ingest", str(tmp_path / "a.log")], env=env, check=True, timeout=60,
                   capture_output=True)
    assert (tmp_path / "home" / "errors.db").is_file()  # SELFHEAL_HOME honoured
    proc = subprocess.run([*SELFHEAL, "errors", "show", "ffff"], env=env, timeout=60, capture_output=True,
                          text=True)
    # issue 13: no class name, and what to do next
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: no error matches 'ffff'; list them with: selfheal errors")
    assert f"(searched {tmp_path / 'home'}" in proc.stderr
    proc = subprocess.run([*SELFHEAL, "errors", "resolve", "ffff"], env=env, timeout=60, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "ErrorNotFound" not in proc.stderr and "no error matches" in proc.stderr


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `selfheal ... &` from a script starts


@pytest.mark.parametrize("dispositions", ["default", "sigint-ignored"])
def test_follow_ingests_appended_tracebacks_until_interrupted(tmp_path: Path, dispositions: str) -> None:
    log = tmp_path / "live.log"
    log.write_text("starting\n", encoding="utf-8")
    home = tmp_path / "home"
    # Started with SIGINT ignored (a background job, or the suite itself run with `&`), the
    # command must still stop on SIGINT: it installs its own handlers.
    proc = subprocess.Popen([*SELFHEAL, "ingest", str(log), "--follow", "--home", str(home), "--json",
                             "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ignore_sigint if dispositions == "sigint-ignored" else None)
    try:
        store_path = home / "errors.db"
        with log.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(log_lines(2, 3)) + "\n")
        deadline = time.monotonic() + 30
        counts: list[int] = []
        while time.monotonic() < deadline:
            if store_path.is_file():
                counts = sorted(r.count for r in SqliteErrorStore(store_path).list())
                if counts == [3, 3]:
                    break
            time.sleep(0.1)
        assert counts == [3, 3]
        with log.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(log_lines(2, 1)) + "\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and counts != [4, 4]:
            counts = sorted(r.count for r in SqliteErrorStore(store_path).list())
            time.sleep(0.1)
        assert counts == [4, 4]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["tracebacks"] == 8 and len(summary["new"]) == 2


def test_follow_stops_on_sigterm_and_says_each_new_error_once(tmp_path: Path) -> None:
    log = tmp_path / "live.log"
    log.write_text("", encoding="utf-8")
    home = tmp_path / "home"
    proc = subprocess.Popen([*SELFHEAL, "ingest", str(log), "--follow", "--home", str(home),
                             "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ignore_sigint, env={**os.environ, "COLUMNS": "200"})
    try:
        with log.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(log_lines(2, 1)) + "\n")
        deadline = time.monotonic() + 30
        db = home / "errors.db"
        while time.monotonic() < deadline and not (db.is_file() and len(SqliteErrorStore(db).list()) == 2):
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.count("new error ") == 2, out  # once each, as they came; not again at the stop



def test_a_file_is_recorded_by_its_absolute_path_whatever_the_working_folder(tmp_path: Path) -> None:
    """``errors show`` says where an error came from, run from anywhere: ``ingest logs/app.log``
    records the file's absolute path; standard input stays ``stdin``; ``--source`` is kept."""
    service = tmp_path / "service"
    (service / "logs").mkdir(parents=True)
    defects = log_lines(3, 1)  # three errors, 8 lines each
    (service / "logs" / "app.log").write_text("\n".join(defects[:8]) + "\n")
    home = str(tmp_path / "home")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}, "COLUMNS": "200"}
    done = subprocess.run([*SELFHEAL, "ingest", "logs/app.log", "--home", home, "--json"], cwd=service,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    (fp,) = json.loads(done.stdout)["new"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = subprocess.run([*SELFHEAL, "errors", "show", fp[:12], "--home", home, "--json"], cwd=elsewhere,
                           capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["source"] == str(service / "logs" / "app.log")
    table = subprocess.run([*SELFHEAL, "errors", "show", fp[:12], "--home", home], cwd=elsewhere,
                           capture_output=True, text=True, env=env, timeout=120)
    assert str(service / "logs" / "app.log") in table.stdout, table.stdout

    (stdin_fp,) = run("ingest", "-", "--home", home, "--json", input="\n".join(defects[8:16]))["new"]
    (tmp_path / "b.log").write_text("\n".join(defects[16:]) + "\n")
    named = run("ingest", str(tmp_path / "b.log"), "--home", home, "--source", "orders-prod", "--json")
    (named_fp,) = named["new"]
    store = SqliteErrorStore(Path(home) / "errors.db")
    assert store.get(stdin_fp).source == "stdin"  # type: ignore[union-attr]
    assert store.get(named_fp).source == "orders-prod"  # type: ignore[union-attr]
