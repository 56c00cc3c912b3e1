"""The demo followed by the README's ``watch`` command names the demo's defects alike (#12).

The demo ingests its log with the sample repository added to ``app_roots``; ``watch --repo`` and
``ingest --repo`` do not add it, and ``parse`` has no repository at all. Fingerprint v2 must give
the same ids in all three, so watching the demo's log after the demo records nothing new.
"""

from __future__ import annotations

from pathlib import Path

from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.compose.demo import LOG, prepare_sample, run_service
from selfheal.compose.store import build_ingest_service
from selfheal.services.ingest import IngestReport
from selfheal.settings import Settings, load_settings


def _ingest(settings: Settings, store: SqliteErrorStore, log: Path) -> IngestReport:
    return build_ingest_service(settings, store).ingest_lines(log.read_text().splitlines(), source=str(log))


def test_watch_after_the_demo_adds_no_error(tmp_path: Path) -> None:
    repo = prepare_sample(tmp_path)
    run_service(repo)
    log = repo / LOG
    store = SqliteErrorStore(tmp_path / "home" / "errors.db")
    demo = load_settings({"home": tmp_path / "home", "repo": repo,
                          "app_roots": [*Settings().app_roots, f"{repo}/"]}, env={})
    first = _ingest(demo, store, log)
    assert first.distinct >= 4 and len(first.new) == first.distinct
    watch = load_settings({"home": tmp_path / "home", "repo": repo}, env={})
    again = _ingest(watch, store, log)
    assert again.new == [] and again.distinct == first.distinct
    without_repo = _ingest(load_settings({"home": tmp_path / "home"}, env={}), store, log)
    assert without_repo.new == []
    rec = store.get(first.new[0])
    assert rec is not None and not rec.frames[-1].file.startswith(("/", repo.name))
