"""Fingerprint v1: same defect -> same key; different defects -> different keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from selfheal.domain.extract import extract_from_text
from selfheal.domain.fingerprint import (
    Fingerprint,
    FingerprintConfig,
    fingerprint,
    is_in_app,
    normalise_message,
    relative_path,
)
from selfheal.domain.traceback import Traceback

LIB = "/usr/local/lib/python3.11/site-packages/requests/api.py"


def tb_for(
    root: str = "/var/task/", *, message: str = "'abc'", line: int = 17, depth: int = 1, lib: str = LIB,
    etype: str = "KeyError",
) -> Traceback:
    lines = ["Traceback (most recent call last):"]
    lines += [f'  File "{root}app/handler.py", line 42, in handle', "    order = load(event['id'])"]
    for _ in range(depth):
        lines += [f'  File "{root}app/store.py", line {line}, in load', "    return   ROWS[key]"]
    lines += [f'  File "{lib}", line 59, in get', "    return request('get', url)"]
    lines.append(f"{etype}: {message}")
    (tb,) = extract_from_text("\n".join(lines) + "\n")
    return tb


def fid(tb: Traceback, config: FingerprintConfig | None = None) -> str:
    return fingerprint(tb, config).id


def test_shape_of_a_fingerprint() -> None:
    fp = fingerprint(tb_for())
    assert isinstance(fp, Fingerprint)
    assert len(fp.id) == 32 and all(c in "0123456789abcdef" for c in fp.id)
    assert len(fp.full_hash) == 32 and fp.full_hash != fp.id
    assert fp.version == "v2"
    assert (fp.exc_type, fp.message) == ("KeyError", "'abc'")
    assert [(f.file, f.function, f.line) for f in fp.in_app_frames] == [
        ("app/handler.py", "handle", 42),
        ("app/store.py", "load", 17),
    ]
    assert fp.in_app_frames[1].source == "return   ROWS[key]"


def test_line_numbers_deploy_roots_and_messages_do_not_split_an_error() -> None:
    base = fid(tb_for())
    assert fid(tb_for(line=99)) == base
    assert fid(tb_for(root="/app/")) == base
    assert fid(tb_for(root="/srv/app/")) == base
    assert fid(tb_for(message="'order-77'")) == base  # in-app frames present: message unused
    assert fid(tb_for(lib="/opt/python/requests/api.py")) == base  # library frames unused
    custom = FingerprintConfig(app_roots=("/home/ci/build/",))
    assert fid(tb_for(root="/home/ci/build/"), custom) == base


def test_recursion_depth_does_not_split_an_error() -> None:
    assert fid(tb_for(depth=1)) == fid(tb_for(depth=50))


def test_type_and_frames_separate_errors() -> None:
    assert fid(tb_for(etype="ValueError")) != fid(tb_for())
    other = tb_for()
    other.final.frames[1].function = "save"
    assert fid(other) != fid(tb_for())
    edited = tb_for()
    edited.final.frames[1].source = "return ROWS.get(key)"
    assert fid(edited) != fid(tb_for())


def test_whitespace_in_source_lines_is_ignored() -> None:
    spaced = tb_for()
    spaced.final.frames[1].source = "return ROWS[ key ]"
    assert fid(spaced) == fid(tb_for())  # a reformat is not a new defect
    same = tb_for()
    same.final.frames[1].source = "return ROWS[key]"
    assert fid(same) == fid(tb_for())


def lib_only(message: str, crash_fn: str = "get") -> Traceback:
    text = (
        "Traceback (most recent call last):\n"
        '  File "<stdin>", line 1, in <module>\n'
        f'  File "/usr/lib/python3/dist-packages/lib/core.py", line 3, in {crash_fn}\n'
        "    raise LookupError(msg)\n"
        f"LookupError: {message}\n"
    )
    (tb,) = extract_from_text(text)
    return tb


def test_without_in_app_frames_the_normalised_message_and_crash_site_count() -> None:
    a = fid(lib_only("user 42 not found (id=0x7f3a, req 123e4567-e89b-12d3-a456-426614174000)"))
    b = fid(lib_only("user 977 not found (id=0xdead, req 00000000-0000-0000-0000-000000000000)"))
    assert a == b
    assert fid(lib_only("quota exceeded")) != a
    assert fid(lib_only("user 42 not found (id=0x7f3a, req x)", crash_fn="put")) != fid(
        lib_only("user 42 not found (id=0x7f3a, req x)")
    )


def test_chained_causes_contribute() -> None:
    def wrapped(cause: str) -> Traceback:
        text = (
            "Traceback (most recent call last):\n"
            '  File "/app/svc/db.py", line 3, in fetch\n    conn.query()\n'
            f"{cause}: boom\n\n"
            "The above exception was the direct cause of the following exception:\n\n"
            "Traceback (most recent call last):\n"
            '  File "/app/svc/api.py", line 9, in handler\n    raise ServiceError("failed") from e\n'
            "svc.errors.ServiceError: failed\n"
        )
        (tb,) = extract_from_text(text)
        return tb

    assert fid(wrapped("TimeoutError")) != fid(wrapped("KeyError"))
    assert fid(wrapped("KeyError")) == fid(wrapped("KeyError"))


def test_qualified_and_short_type_names_agree() -> None:
    assert fid(tb_for(etype="requests.exceptions.HTTPError")) == fid(tb_for(etype="HTTPError"))


def test_is_in_app() -> None:
    cfg = FingerprintConfig()
    assert is_in_app("/var/task/app.py", cfg)
    assert is_in_app("src/orders/api.py", cfg)
    assert is_in_app("C:\\Users\\dev\\proj\\manage.py", cfg)
    for path in (
        "/usr/lib/python3.11/json/decoder.py",
        "/usr/local/lib/python3.8/site-packages/django/core/handlers/base.py",
        "/usr/lib/python3/dist-packages/yaml/__init__.py",
        "<frozen importlib._bootstrap>",
        "/var/runtime/bootstrap.py",
        "/var/lang/lib/python3.12/http/client.py",
        "/opt/python/requests/api.py",
        "C:\\Python39\\lib\\json\\decoder.py",
        "D:\\venv\\Lib\\site-packages\\django\\core\\management\\__init__.py",
        "/home/u/.venv/lib/python3.11/site-packages/x.py",
        "<stdin>",
        "<ipython-input-3-e2cc0e97941a>",
    ):
        assert not is_in_app(path, cfg), path
    vendored = FingerprintConfig(in_app_prefixes=("/opt/python/mycompany/",))
    assert is_in_app("/opt/python/mycompany/billing.py", vendored)
    assert not is_in_app("/opt/python/requests/api.py", vendored)


def test_relative_path() -> None:
    assert relative_path("/var/task/app/handler.py") == "app/handler.py"
    assert relative_path("/app/svc/api.py") == "svc/api.py"
    assert relative_path("./svc/api.py") == "svc/api.py"
    assert relative_path("/home/alice/projects/shop/svc/api.py") == "shop/svc/api.py"
    assert relative_path("C:\\Users\\dev\\shop\\svc\\api.py") == "shop/svc/api.py"
    assert relative_path("/home/x/shop/svc/api.pyc") == "shop/svc/api.py"


def test_normalise_message() -> None:
    assert normalise_message("Order 1234 failed after 3.5s at 0xdeadbeef") == (
        "Order <num> failed after <num>s at <hex>"
    )
    assert normalise_message("no key 'abc-1' in \"cfg\"\nsecond line") == "no key <str> in <str>"
    assert normalise_message("") == ""
    assert normalise_message("id 123e4567-e89b-12d3-a456-426614174000") == "id <uuid>"
    assert normalise_message("layer2 conv3d") == "layer2 conv3d"


def test_deterministic_across_processes() -> None:
    code = (
        "from tests.unit.test_fingerprint import tb_for;"
        "from selfheal.domain.fingerprint import fingerprint;"
        "f = fingerprint(tb_for()); print(f.id, f.full_hash)"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True, text=True, timeout=60, check=True, cwd=Path(__file__).resolve().parents[2],
            env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"},
        ).stdout.strip()
        for seed in (1, 2, 3)
    }
    fp = fingerprint(tb_for())
    assert outs == {f"{fp.id} {fp.full_hash}"}


def test_qualified_function_names_match_bare_ones() -> None:
    qualified = tb_for()
    qualified.final.frames[1].function = "Store.load"
    assert fid(qualified) == fid(tb_for())


def test_one_crash_site_reached_two_ways_is_one_error() -> None:
    direct = tb_for()
    via_other_endpoint = tb_for()
    via_other_endpoint.final.frames[0].function = "bulk_import"
    via_other_endpoint.final.frames[0].source = "orders = [load(i) for i in ids]"
    assert fid(via_other_endpoint) == fid(direct)
    outer_frames_cut = tb_for()
    del outer_frames_cut.final.frames[0]  # sys.tracebacklimit, a capped traceback
    assert fid(outer_frames_cut) == fid(direct)
    assert fingerprint(via_other_endpoint).full_hash != fingerprint(direct).full_hash
