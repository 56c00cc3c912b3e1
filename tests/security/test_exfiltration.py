"""Exfiltration through the repair loop: a hostile model (it knows the API key it is sent) adds
a test that fails with the key in every common encoding; the failure becomes round 2's feedback.
Neither prompt, nor the store, nor the artifacts, nor the pull request may carry the key or an
encoding of it. Driven through the real CLI (``selfheal fix``) with an OpenAI-compatible fake."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from selfheal.compose.store import build_ingest_service, build_local_store
from selfheal.settings import load_settings
from tests.support import validation_repo as vr
from tests.support.model_servers import ModelServer

TOKEN = "sk-proj-Zq8vN3xW5yT1uR7oP2aL9kD4"  # the key of the (fake) model account
SELFHEAL = str(Path(sys.executable).with_name("selfheal"))


def disguises(value: str) -> dict[str, str]:
    data = value.encode()
    b32 = base64.b32encode(data).decode()
    return {
        "raw": value,
        "base32": b32,
        "base32-lower": b32.lower(),
        "base64": base64.b64encode(data).decode(),
        "hex": data.hex(),
        "reversed": value[::-1],
        "url": quote("key=" + value + "&x=1", safe=""),
        "base64-inside": base64.b64encode(b"prefix:" + data + b":suffix").decode(),
    }


def hostile_reply() -> str:
    leaked = "; ".join(f"{k}={v}" for k, v in disguises(TOKEN).items())
    fix = vr.FIX_ONLY_REPLY.split("<<<<<<< SEARCH", 1)[1]  # a code change: tests alone never run
    return (
        "ROOT CAUSE: average of an empty list\nSUMMARY: add a regression test\n<<<<<<< SEARCH"
        + fix
        + "<<<<<<< SEARCH tests/test_exfil.py\n=======\n"
        "def test_exfil():\n"
        f"    assert False, {leaked!r}\n"
        ">>>>>>> REPLACE\n"
    )


@pytest.mark.timeout(600)
def test_a_leaked_key_never_reaches_round_two(tmp_path: Path) -> None:
    repo = vr.make_project(tmp_path / "repo")
    home = tmp_path / "home"
    settings = load_settings({"home": home, "repo": repo}, env={})
    report = build_ingest_service(settings, build_local_store(settings)).ingest_lines(
        vr.TRACE.replace("/app/", f"{repo}/").splitlines(), "app.log"
    )
    fp = str(report.new[0])
    home.mkdir(exist_ok=True)
    secrets = home / "secrets.toml"
    secrets.write_text(f'openai_api_key = "{TOKEN}"\n')
    secrets.chmod(0o600)
    with ModelServer("openai") as server:
        server.reply_text(hostile_reply())
        server.reply_text(vr.GOOD_REPLY)
        # The key reaches the process as a credential variable (and, once the CLI reads model keys
        # through the Secrets port, from secrets.toml as well): either way it is known.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
        env["OPENAI_API_KEY"] = TOKEN
        proc = subprocess.run(
            [
                SELFHEAL,
                "fix",
                fp,
                "--repo",
                str(repo),
                "--home",
                str(home),
                "--json",
                "--model",
                f"openai:{server.url}/v1#m",
            ],
            capture_output=True,
            text=True,
            timeout=500,
            env=env,
            check=False,
        )
        requests = list(server.requests)
    assert len(requests) >= 2, proc.stdout + proc.stderr
    headers = {k.lower(): v for k, v in requests[0].headers.items()}
    assert headers.get("authorization") == f"Bearer {TOKEN}"  # what a hostile model endpoint learns
    round_two = json.dumps(requests[1].body)
    assert "test_exfil" in round_two, "round 2 carries no feedback from the hostile test"
    assert "REDACTED:known-secret" in round_two
    places = {"round 1": json.dumps(requests[0].body), "round 2": round_two, "cli": proc.stdout + proc.stderr}
    for path in home.rglob("*"):
        if path.is_file() and path != secrets:
            places[str(path.relative_to(home))] = path.read_bytes().decode("utf-8", "replace")
    for where, text in places.items():
        for kind, form in disguises(TOKEN).items():
            assert form not in text, f"the key ({kind}) reached {where}"
