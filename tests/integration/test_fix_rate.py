"""bench/fix_rate.py end to end on a few crash repositories, through the product's path (ingest of
the crash log, the fix workflow, validation with the replay of the captured input, real git),
with the offline fixer and with a model behind a local fake OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.model_servers import ModelServer

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "fix_rate.py"


def run_bench(*args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")} | {"OPENAI_API_KEY": "test"}
    proc = subprocess.run([sys.executable, str(BENCH), "--json", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.timeout(900)
def test_outcomes_through_ingest_and_fix() -> None:
    names = ["inventory_webhook", "pagination_api", "job_queue"]
    report = run_bench(*names)
    by_name = {r["name"]: r for r in report["results"]}
    assert report["model"] == "rules" and report["unverified"] == "abstain"
    # the crash log carried the event: captured at ingest, replayed, verified, independently right
    fixed = by_name["inventory_webhook"]
    assert fixed["outcome"] == "fixed" and fixed["verified"] and fixed["captured"] == 1
    assert '.get("lines", [])' in fixed["diff"]
    # a zero guard would answer 200 where the oracle wants a 400: the fixer rejects the input instead
    paging = by_name["pagination_api"]
    assert paging["outcome"] == "fixed" and "raise BadRequest" in paging["diff"]
    # no event in the log: nothing can verify the fix, so no pull request (verified or no PR)
    unlogged = by_name["job_queue"]
    assert unlogged["captured"] == 0 and unlogged["outcome"] == "abstained"
    assert "no test checks the claim" in unlogged["reason"]
    assert all(r["matches"] for r in report["results"])
    assert report["totals"] == {"fixed": 2, "abstained": 1} and report["verified_share"] == 1.0


@pytest.mark.timeout(900)
def test_model_flag_runs_the_suite_through_a_provider_and_a_moved_exception_is_fed_back() -> None:
    moved = ('<<<<<<< SEARCH inventory/webhooks.py\n    for line in notice["lines"]:\n=======\n'
             '    for line in notice.get("lines"):\n>>>>>>> REPLACE\n')
    right = ('<<<<<<< SEARCH inventory/webhooks.py\n    for line in notice["lines"]:\n=======\n'
             '    for line in notice.get("lines", []):\n>>>>>>> REPLACE\n')
    with ModelServer("openai") as server:
        server.reply_text(moved)
        server.reply_text(right)
        report = run_bench("inventory_webhook", "--model", f"openai:{server.url}/v1#fake-coder")
        requests = list(server.requests)
    (result,) = report["results"]
    assert report["model"].startswith("openai:") and result["outcome"] == "fixed" and result["verified"]
    assert result["attempts"] == 2 and len(requests) == 2
    first_prompt, second_prompt = (json.dumps(r.body) for r in requests)
    assert "BEGIN RECORDED INPUT" in first_prompt and "NORDPACK" in first_prompt  # the event, shown
    assert "moving the exception is not a fix" in second_prompt and "TypeError" in second_prompt
