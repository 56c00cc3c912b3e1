"""``selfheal demo``: the whole loop on the bundled sample service, offline.

1. copy ``selfheal/samples/orders`` into a fresh directory and make it a git repository;
2. run the service over its recorded requests, so it crashes and logs tracebacks;
3. ingest the log into the local error store (SQLite);
4. for each new error, the real hand-off and workflow: the local dispatcher and the start-fix
   service start ``statemachine/fix_error.asl.json`` in the local engine (moto's interpreter),
   whose states run the offline fixer, validation with the service's own tests, and commit a
   branch plus a local PR record;
5. report what happened and where everything is.

Nothing here is demo-only logic: every step is a service the CLI and the Lambdas use too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

import selfheal
from selfheal.envscrub import scrub_env
from selfheal.errors import ConfigurationError
from selfheal.names import Artifact

if TYPE_CHECKING:
    from selfheal.services.workflow.runner import ProgressEvent

SAMPLE = Path(selfheal.__file__).resolve().parent / "samples" / "orders"
REPO_NAME = "orders-service"
REQUESTS = "requests.jsonl"
LOG = Path("logs") / "orders.log"
FIX_TIMEOUT = 300.0
_GIT_IDENTITY = ["-c", "user.name=Orders Team", "-c", "user.email=orders-team@example.com",
                 "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]


class DemoEvent(BaseModel):
    """Progress: a step of the demo (``step``), a workflow state (``state``) or a finished fix."""

    kind: str  # step | fix_started | state | fix_done
    text: str = ""
    state: str = ""
    ok: bool = True
    duration_ms: int | None = None


Progress = Callable[[DemoEvent], None]


class FixSummary(BaseModel):
    """One error's fix run, as the demo reports it."""

    fingerprint: str
    exc_type: str
    message: str
    location: str
    occurrences: int
    status: str
    execution_id: str
    execution_name: str
    path: list[dict[str, Any]] = Field(default_factory=list)
    branch: str | None = None
    pr_url: str | None = None
    reasons: list[str] = Field(default_factory=list)
    verified: bool = False
    tests_before: dict[str, Any] | None = None
    tests_after: dict[str, Any] | None = None
    newly_passing: list[str] = Field(default_factory=list)
    # what each reproduction did (the replay of the recorded inputs, the shipped regression test)
    reproductions: list[dict[str, Any]] = Field(default_factory=list)
    seconds: float = 0.0


class DemoResult(BaseModel):
    """Everything the demo did and where it left it."""

    root: Path
    repo: Path
    log: Path
    home: Path
    model: str
    requests: int
    crashes: int
    tracebacks: int
    errors_found: int
    duplicates: int
    fixes: list[FixSummary] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    prs: list[dict[str, Any]] = Field(default_factory=list)
    seconds: float = 0.0


# --- the sample service ----------------------------------------------------------------------

def _quiet_env(**extra: str) -> dict[str, str]:
    """A small environment for our subprocesses (``selfheal.envscrub``): no credentials or tokens."""
    return scrub_env(os.environ, {"PYTHONDONTWRITEBYTECODE": "1", **extra}, keep=("HOME", "TMPDIR"))


def _git(repo: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *_GIT_IDENTITY, *args], cwd=repo, capture_output=True, text=True,
                             timeout=60, env=_quiet_env(GIT_TERMINAL_PROMPT="0"), check=False)
    except FileNotFoundError:
        raise ConfigurationError("the demo needs git; install it (e.g. apt-get install git)") from None
    if out.returncode != 0:
        raise ConfigurationError(f"git {args[0]} failed in {repo}: {out.stderr.strip()[:300]}")
    return out.stdout


def choose_root(requested: Path | None, parent: Path | None = None) -> Path:
    """``requested`` if it is new or empty; else ``<tmp>/selfheal-demo``, ``-2``, ``-3``, ...

    The default is under the system's temporary directory, not the current one: run from a
    checkout of selfheal, a demo folder there would be linted and tested with the project.
    """
    if requested is not None:
        if requested.exists() and (not requested.is_dir() or any(requested.iterdir())):
            raise ConfigurationError(f"{requested} exists and is not an empty directory; "
                                     "choose a new --dir")
        return requested.resolve()
    base = (parent or Path(tempfile.gettempdir())) / "selfheal-demo"
    candidate, n = base, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = base.with_name(f"selfheal-demo-{n}")
    return candidate.resolve()


def prepare_sample(root: Path) -> Path:
    """Copy the sample service to ``root/orders-service`` as a git repository (branch main)."""
    if not (SAMPLE / REQUESTS).is_file():
        raise ConfigurationError(f"the bundled sample service is missing from {SAMPLE}")
    repo = root / REPO_NAME
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache",
                                                                 "logs", ".selfheal"))
    # Shipped without the dot: package-data globs skip dotfiles, and the demo repo needs it.
    if (repo / "gitignore").is_file():
        (repo / "gitignore").rename(repo / ".gitignore")
    _git(repo, "init", "-q")
    _git(repo, "symbolic-ref", "HEAD", "refs/heads/main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "orders-service 1.4.2")
    return repo


def run_service(repo: Path) -> tuple[int, int]:
    """Replay the recorded requests through the service; (requests, crashes) from its own log."""
    cmd = [sys.executable, "-m", "orders.replay", REQUESTS, "--log", str(LOG)]
    out = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120,
                         env=_quiet_env(), check=False)
    if out.returncode != 0:
        raise ConfigurationError(f"the sample service did not run: {out.stderr.strip()[-500:]}")
    requests = sum(1 for line in (repo / REQUESTS).read_text(encoding="utf-8").splitlines() if line.strip())
    crashes = sum(1 for line in (repo / LOG).read_text(encoding="utf-8").splitlines()
                  if line.startswith("[ERROR]"))  # the Lambda runtime's format (orders/replay.py)
    return requests, crashes


# --- following an execution ------------------------------------------------------------------

class _StateTimes:
    """Turns the runner's progress events into the demo's: one per finished Task state, with its
    duration (``ok`` is False for the states that record a failure or an abstention)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.entered: dict[str, datetime | None] = {}

    def __call__(self, event: ProgressEvent) -> None:
        from selfheal.services.workflow.catalogue import BY_NAME

        if event.event == "entered":
            self.entered[event.state] = event.at
        elif event.event in ("succeeded", "caught"):
            began = self.entered.get(event.state)
            ms = (int((event.at - began).total_seconds() * 1000)
                  if event.at is not None and began is not None else None)
            entry = BY_NAME.get(event.state)
            self.progress(DemoEvent(kind="state", state=event.state, duration_ms=ms,
                                    ok=entry is not None and entry.resumable))


def _validation(artifacts: Any, path: list[Any]) -> dict[str, Any]:
    """The last validation report of a run (tests before/after), if there is one."""
    import json

    refs = [v.artifacts[Artifact.VALIDATION] for v in path if Artifact.VALIDATION in v.artifacts]
    if not refs:
        return {}
    report: dict[str, Any] = json.loads(artifacts.get_bytes(refs[-1]).decode("utf-8"))
    return report


# --- the demo --------------------------------------------------------------------------------

def run_demo(root: Path, progress: Progress, model: str = "rules") -> DemoResult:
    """Run the whole loop in ``root`` (new or empty); see the module docstring."""
    from selfheal.adapters.local_prs import PrRecordStore
    from selfheal.compose.store import build_ingest_service, build_policy
    from selfheal.compose.workflow import local_workflow
    from selfheal.services.dispatch import FixStarter, LocalDispatcher
    from selfheal.services.workflow.runner import follow_execution
    from selfheal.settings import Settings, load_settings

    started = time.monotonic()
    if shutil.which("git") is None:
        raise ConfigurationError("the demo needs git; install it (e.g. apt-get install git)")
    root.mkdir(parents=True, exist_ok=True)
    progress(DemoEvent(kind="step", text=f"copying the sample service to {root / REPO_NAME}"))
    repo = prepare_sample(root)
    progress(DemoEvent(kind="step", text="running it over its recorded requests"))
    requests, crashes = run_service(repo)
    home, log = root / ".selfheal", repo / LOG
    settings = load_settings({"home": home, "repo": repo, "model": model,
                              "app_roots": [*Settings().app_roots, f"{repo}/"]})

    with local_workflow(settings, model) as wf:
        store = wf.services.store
        from selfheal.adapters.file_cursor import CursorReader
        from selfheal.compose.store import build_cursor_store

        # Through the file cursor `ingest` and `watch` share: watching the demo's log afterwards
        # (the README's `watch` command) counts only what is appended.
        reader = CursorReader(log, build_cursor_store(settings), from_start=True)
        report = build_ingest_service(settings, store).ingest_lines(reader.lines(), source=str(log))
        reader.commit()
        progress(DemoEvent(kind="step", text=f"ingested {report.tracebacks} tracebacks: {report.distinct} "
                                             f"distinct errors, {report.duplicates} duplicates"))
        dispatcher = LocalDispatcher(FixStarter(store, wf.engine, build_policy(settings)))
        progress(DemoEvent(kind="step", text=f"fixing each new error: the fix workflow in the local engine, "
                                             f"model {model}, validated with the service's tests"))
        fixes: list[FixSummary] = []
        for fp in report.to_fix:
            record = store.get(fp)
            if record is None:
                continue
            progress(DemoEvent(kind="fix_started", text=f"{record.short_id} {record.exc_type}: "
                                                        f"{record.message[:60]} at {record.location}"))
            t0 = time.monotonic()
            dispatcher.submit(fp, report.reasons.get(fp, "new"))  # type: ignore[arg-type]
            for start in dispatcher.drain():
                if start.execution is None or start.attempt is None:
                    continue
                out = follow_execution(store, wf.engine, fp, start.attempt, start.execution,
                                       progress=_StateTimes(progress), timeout=FIX_TIMEOUT,
                                       artifacts=wf.services.artifacts)
                val = _validation(wf.services.artifacts, out.path)
                fixes.append(FixSummary(
                    fingerprint=fp, exc_type=record.exc_type, message=record.message,
                    location=record.location, occurrences=record.count, status=str(out.status),
                    execution_id=out.execution_id, execution_name=out.execution_name,
                    path=[v.model_dump(mode="json") for v in out.path], branch=out.branch,
                    pr_url=out.pr_url, reasons=out.reasons, verified=bool(val.get("verified")),
                    tests_before=val.get("tests_before"), tests_after=val.get("tests_after"),
                    newly_passing=list(val.get("newly_passing") or []),
                    reproductions=next((list(g.get("evidence", {}).get("checks") or []) for g in
                                        val.get("gates", []) if g.get("gate") == "reproduction"), []),
                    seconds=round(time.monotonic() - t0, 2)))
                progress(DemoEvent(kind="fix_done", text=str(out.status), ok=str(out.status) == "PR_OPEN"))
        errors = [{**r.model_dump(mode="json", exclude={"attempts", "sample_trace"}),
                   "location": r.location, "short_id": r.short_id} for r in store.list()]
    prs = [p.model_dump(mode="json", exclude={"body"}) for p in PrRecordStore(home).all()]
    return DemoResult(root=root, repo=repo, log=log, home=home, model=model, requests=requests,
                      crashes=crashes, tracebacks=report.tracebacks, errors_found=report.distinct,
                      duplicates=report.duplicates, fixes=fixes, errors=errors, prs=prs,
                      seconds=round(time.monotonic() - started, 1))


def branch_diff(repo: Path, branch: str) -> str:
    """``git diff main...branch`` of the demo repository (what the PR changes)."""
    return _git(repo, "diff", "--stat", "-p", f"main...{branch}")
