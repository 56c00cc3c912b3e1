"""``selfheal parse`` through the click command (and once as a real process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from selfheal.cli import cli

ROOT = Path(__file__).resolve().parents[2]
TB = (
    b"2024-05-01 10:00:03,845 ERROR [orders] failed\n"
    b"Traceback (most recent call last):\n"
    b'  File "/srv/app/orders/handler.py", line 37, in create_order\n'
    b'    for entry in order["order_items"]:\n'
    b"KeyError: 'order_items'\n"
)


def run(args: list[str], data: bytes = b"") -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, input=data)
    return result.exit_code, result.output


def test_json_document_shape() -> None:
    code, out = run(["parse", "--json", "-"], TB + b"2024-05-01 10:00:04,000 INFO ok\n" + TB)
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["tracebacks"]
    first, second = doc["tracebacks"]
    assert set(first) == {"chain", "fingerprint"}
    assert first["fingerprint"] == second["fingerprint"] and len(first["fingerprint"]) == 32
    link = first["chain"][-1]
    assert link == {
        "type": "KeyError",
        "message": "'order_items'",
        "frames": [{"file": "/srv/app/orders/handler.py", "line": 37, "function": "create_order"}],
        "link": None,
    }


def test_invalid_utf8_nul_bytes_and_binary_garbage_on_stdin() -> None:
    data = bytes(range(256)) * 50 + b"\n\x00\xff\xfe\n" + TB.replace(b"order_items", b"order_\xffitems")
    code, out = run(["parse", "--json", "-"], data)
    assert code == 0
    (tb,) = json.loads(out)["tracebacks"]
    assert tb["chain"][-1]["message"] == "'order_\ufffditems'"


def test_human_summary_groups_by_fingerprint(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(TB + TB)
    code, out = run(["parse", str(log)])
    assert code == 0
    assert "2 traceback(s), 1 distinct error(s)" in out
    assert "KeyError" in out


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    code, out = run(["parse", str(tmp_path / "nope.log")])
    assert code != 0
    assert "cannot read" in out


def test_example_log_as_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "selfheal.cli.parse", "--json", str(ROOT / "examples" / "app.log")],
        capture_output=True, timeout=120, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    types = [t["chain"][-1]["type"] for t in doc["tracebacks"]]
    assert types == [
        "KeyError", "orders.store.StoreUnavailable", "ZeroDivisionError", "AttributeError", "KeyError",
        "ExceptionGroup",
    ]
    fps = [t["fingerprint"] for t in doc["tracebacks"]]
    assert fps[0] == fps[4] and len(set(fps)) == 5
