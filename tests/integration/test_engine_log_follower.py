"""The log follower of ``selfheal watch``: complete lines only, a remembered offset, rotation."""

from __future__ import annotations

from pathlib import Path

from selfheal.services.workflow.watch import LogFollower


def test_log_follower_reads_complete_lines_and_survives_truncation(tmp_path: Path) -> None:
    log, state = tmp_path / "app.log", tmp_path / "state.json"
    log.write_text("one\ntwo\npart")
    follower = LogFollower(log, state)
    lines, end = follower.read()
    assert lines == ["one", "two"] and end == len("one\ntwo\n")
    follower.commit(end)
    assert LogFollower(log, state).offset == end  # remembered across restarts
    with log.open("a") as fh:
        fh.write("ial\n")
    assert follower.read()[0] == ["partial"]
    log.write_text("new\n")  # rotated: smaller than the offset
    assert follower.read()[0] == ["new"]
