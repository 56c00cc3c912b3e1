"""Where ``selfheal demo`` puts its files: never over something that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.compose.demo import choose_root
from selfheal.errors import ConfigurationError


def test_default_is_a_fresh_folder_in_the_parent(tmp_path: Path) -> None:
    assert choose_root(None, tmp_path) == (tmp_path / "selfheal-demo").resolve()
    (tmp_path / "selfheal-demo").mkdir()
    assert choose_root(None, tmp_path) == (tmp_path / "selfheal-demo").resolve()  # empty: reused
    (tmp_path / "selfheal-demo" / "x").write_text("used")
    (tmp_path / "selfheal-demo-2").write_text("a file, not a folder")
    assert choose_root(None, tmp_path) == (tmp_path / "selfheal-demo-3").resolve()


def test_an_explicit_dir_must_be_new_or_empty(tmp_path: Path) -> None:
    assert choose_root(tmp_path / "new", tmp_path) == (tmp_path / "new").resolve()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigurationError, match="not an empty directory"):
        choose_root(tmp_path / "used")
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"


def test_demo_progress_comes_from_the_runners_tracker() -> None:
    """The demo reports each finished Task state from the runner's progress events (it does not
    parse execution history itself): with its duration, and not ok for the failure states."""
    from datetime import UTC, datetime, timedelta

    from selfheal.compose.demo import DemoEvent, _StateTimes
    from selfheal.services.workflow.runner import ProgressEvent

    t0 = datetime(2026, 12, 6, tzinfo=UTC)
    seen: list[DemoEvent] = []
    times = _StateTimes(seen.append)
    for state, event, at in (("FetchSource", "entered", 0), ("FetchSource", "succeeded", 250),
                             ("OpenPullRequest", "entered", 300), ("OpenPullRequest", "error", 310),
                             ("OpenPullRequest", "caught", 320), ("RecordFailure", "entered", 330),
                             ("RecordFailure", "succeeded", 340)):
        times(ProgressEvent(state=state, event=event, at=t0 + timedelta(milliseconds=at)))
    assert [(e.state, e.duration_ms, e.ok) for e in seen] == [
        ("FetchSource", 250, True), ("OpenPullRequest", 20, True), ("RecordFailure", 10, False)]
