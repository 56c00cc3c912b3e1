"""``extract_from_stream`` (chunks, ``find`` between tracebacks, regex runs inside them) gives
exactly what the line-by-line ``extract_tracebacks`` gives (a differential and property test).

The reference reads the same bytes as ``selfheal parse`` used to: a ``TextIOWrapper`` with
``errors="replace"`` and ``newline=""``. Inputs: both corpora, a generated storm log, and random
documents mixing every form the runs must leave alone or take (no-break-space and ``\\r``
Lambda events, ``\\r\\n`` endings, JSON-escaped and pretty-printed documents, log prefixes,
chains, groups, markers, ANSI remnants, huge lines and paths, invalid UTF-8, NUL bytes), read
with chunk sizes that cut lines, ``\\r\\n`` pairs and UTF-8 sequences anywhere. The JSON that
``selfheal parse --json`` writes is checked against ``json``'s encoder on the same tracebacks.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

import selfheal.domain.extract.runs as runs
from selfheal.cli.parse import _traceback_json
from selfheal.domain.extract import extract_tracebacks
from selfheal.domain.extract.stream import extract_from_stream
from selfheal.domain.traceback import Traceback
from tests.support.extract_cases import corpus_files, dump, storm_log


def _by_lines(data: bytes, **caps: int) -> list[Traceback]:
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="")
    return list(extract_tracebacks(text, **caps))


def _by_stream(data: bytes, chunk: int, **caps: int) -> list[Traceback]:
    return list(extract_from_stream(io.BytesIO(data), chunk_chars=chunk, **caps))


def _storm(tmp_path: Path) -> bytes:
    # 1.2 MB: over 100 tracebacks checked even without ../shared (a fresh clone)
    return storm_log(tmp_path / "storm.log", 1.2).read_bytes()


# -- random documents ------------------------------------------------------------------------

_PATHS = ["/srv/app/orders/handler.py", "/var/task/app.py", "C:\\svc\\x.py", "/srv/Traceback/tb.py",
          "/opt/é/ü.py", "/a/File ", "x" * 2100, "/srv/app/a b/c.py"]
_FUNCS = ["handler", "<module>", "Klass.method", "f,", "g" * 450, "x y", "lambda_handler"]
_SOURCES = ["result = compute(event)", "return {'a': 1}", "{'json': 1}", "print('File \"x\", line 1, in f')",
            "x = '...'", "[Previous line repeated 3 more times]", "The above is fine", "During = 1",
            "\x1b[31mred\x1b[0m", "[0;31mcolour[0m", "tab\there", "y" * 9000, "Traceback = None", "ok…",
            "z = a.b.c(d)  # comment", "Exception Type: ValueError at /x"]
_EXCS = ["KeyError: 'order_items'", "ValueError: bad\nsecond line", "RuntimeError", "pkg.mod.Failure: x",
         "ZeroDivisionError: division by zero", "ERROR: not an exception", "Exception Type: ValueError"]
_PREFIXES = ["", "", "", "orders_1  | ", "2024-05-01T10:00:00.123Z ", "INTERNALERROR> ", "    "]


def _frame(rng: random.Random) -> list[str]:
    path = rng.choice(_PATHS) if rng.random() < 0.3 else _PATHS[0]
    func = rng.choice(_FUNCS) if rng.random() < 0.2 else "handler"
    number = rng.choice(["12", "1234567890", "unknown"]) if rng.random() < 0.1 else str(rng.randint(1, 999))
    indent = rng.choice(["  ", "  ", "  ", "", "\t", "\xa0\xa0", " > "])
    out = [f'{indent}File "{path}", line {number}, in {func}' + rng.choice(["", "", "  "])]
    if rng.random() < 0.8:
        src = rng.choice(_SOURCES) if rng.random() < 0.25 else "result = compute(event, context)"
        out.append(src if rng.random() < 0.1 else indent + "  " + src)  # indentation lost in a copy
    if rng.random() < 0.3:
        out.append(indent + "  " + rng.choice(["^^^^^^^", "~~~~^^^^", "-----"]))
    if rng.random() < 0.15:
        out.append(indent + "    " + rng.choice(_SOURCES))  # a variable dump, a wrapped line
    return out


def _traceback(rng: random.Random) -> list[str]:
    lines = ["Traceback (most recent call last):"]
    for _ in range(rng.choice([0, 1, 2, 3, 5, 9])):
        lines += _frame(rng)
    if rng.random() < 0.1:
        lines.append("  [Previous line repeated 996 more times]")
    if rng.random() < 0.1:
        lines.append("  ...")
    if rng.random() < 0.9:
        lines += rng.choice(_EXCS).split("\n")
    if rng.random() < 0.2:
        separator = rng.choice(["The above exception was the direct cause of the following exception:",
                                "During handling of the above exception, another exception occurred:"])
        lines = [*lines, "", separator, "", *_traceback(rng)]
    return lines


def _group(rng: random.Random) -> list[str]:
    inner = [f"    | {line}" for line in _traceback(rng)]
    return ["  + Exception Group Traceback (most recent call last):", *[f"  | {ln}" for ln in _frame(rng)],
            "  | ExceptionGroup: errors (1 sub-exception)", "  +-+---------------- 1 ----------------",
            *inner, "    +------------------------------------"]


def _record(rng: random.Random) -> list[str]:
    """One log record: ordinary lines or a traceback in one of its forms."""
    r = rng.random()
    if r < 0.35:
        return [rng.choice(["2024-05-01 10:00:00,001 INFO  [orders] GET /x 200", '{"level": "INFO", "m": 1}',
                            "", "   indented ordinary line", "plain words", "END RequestId: abc"])]
    tb = _traceback(rng) if r < 0.9 else _group(rng)
    form = rng.random()
    if form < 0.5:
        prefix = rng.choice(_PREFIXES)
        return [f"{prefix}{line}" for line in tb]
    if form < 0.65:  # Lambda: one event, "\r" separators, no-break-space indentation
        body = "\r".join(line.replace("  ", "\xa0\xa0") for line in tb)
        return [f"[ERROR] KeyError: 'x'\r{body}"]
    if form < 0.8:  # JSON log line with an escaped traceback
        return [json.dumps({"level": "ERROR", "exception": rng.choice(["\n", "\r\n", "\r"]).join(tb)})]
    if form < 0.87:  # pretty-printed invoke response
        stack = [f'  File "/var/task/app.py", line {i}, in handler\n    x = {i}\n' for i in range(3)]
        doc = json.dumps({"errorMessage": "boom", "errorType": "KeyError", "stackTrace": stack}, indent=2)
        return doc.split("\n")
    if form < 0.93:  # docker json-file: one line of the traceback per record
        return [json.dumps({"log": line + "\n", "stream": "stderr"}) for line in tb]
    return tb[: rng.randint(1, len(tb))]  # cut anywhere


def _document(rng: random.Random) -> bytes:
    lines: list[str] = []
    while len(lines) < rng.randint(5, 120):
        lines += _record(rng)
    ends = rng.choice(["\n", "\n", "\r\n", "mixed"])
    out = bytearray()
    for line in lines:
        out += line.encode("utf-8")
        out += (rng.choice([b"\n", b"\r\n", b"\r", b"\n"]) if ends == "mixed" else ends.encode())
    if rng.random() < 0.2:  # binary garbage: invalid UTF-8, NUL, lone surrogate bytes, stray CRs
        for _ in range(rng.randint(1, 5)):
            at = rng.randint(0, len(out))
            out[at:at] = bytes(rng.choice([0x00, 0x0D, 0xC2, 0xA0, 0xE2, 0x80, 0xFF, 0xED, 0x1B, 0x0B])
                               for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.3:
        out = out.rstrip(b"\r\n")  # no terminator on the last line
    return bytes(out)


# -- tests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", [1 << 20, 4096, 61, 7])
def test_stream_matches_lines_on_corpora_and_a_storm(tmp_path: Path, chunk: int) -> None:
    texts = [p.read_bytes() for p in corpus_files()] + [_storm(tmp_path)]
    checked = 0
    for data in texts:
        expected = dump(_by_lines(data))
        assert dump(_by_stream(data, chunk)) == expected
        checked += len(expected)
    assert checked > 100


def test_stream_matches_lines_on_random_documents() -> None:
    rng = random.Random(20261206)
    found = 0
    for _ in range(400):
        data = _document(rng)
        caps = rng.choice([{}, {}, {"max_frames": 3}, {"max_bytes": 1024}])
        expected = dump(_by_lines(data, **caps))
        chunk = rng.choice([1 << 20, 1000, 97, 13, 2])
        assert dump(_by_stream(data, chunk, **caps)) == expected, (data[:2000], caps, chunk)
        found += len(expected)
    assert found > 400  # the documents hold tracebacks, not only noise


def test_runs_in_embedded_tracebacks_match_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    docs = [_document(rng) for _ in range(300)]
    with_runs = [dump(_by_lines(d)) for d in docs]
    monkeypatch.setattr(runs, "RUNS", False)
    assert [dump(_by_lines(d)) for d in docs] == with_runs
    assert sum(map(len, with_runs)) > 300


def test_parse_json_matches_json_encoder(tmp_path: Path) -> None:
    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    rng = random.Random(3)
    datas = [p.read_bytes() for p in corpus_files()] + [_storm(tmp_path)]
    datas += [_document(rng) for _ in range(100)]
    groups = 0
    for data in datas:
        for tb in _by_stream(data, 1 << 20):
            doc = tb.to_dict()
            doc["fingerprint"] = "abc\u00e9\"\\"
            assert _traceback_json(tb, doc["fingerprint"]) == encode(doc)
            groups += tb.final.is_group
    assert groups > 0


_EXCEPTION_LINES = ["KeyError: 'x'", "KeyError: 'x'  ", "KeyError ", "ERROR: boom", "RuntimeError",
                    "ValueError: a... b", "Exception Type: X", "Exception Value: y", "pkg.Err: m",
                    "result = compute(x)", "foo: bar", "bareword", "```", "KeyError: the above exception",
                    "{\"a\": 1}", "KeyError: [0mred",
                    "KeyError: tab\tx", "Ключ: x", 'KeyError: File "x", line 1, in f', "  KeyError: x", "",
                    "Traceback (most recent call last):", "[Previous line repeated 2 more times]",
                    "During handling of the above exception, another exception occurred:", "X" * 9000]
_RECORD_LINES = ["2024-05-01 10:00:00,000 INFO x", "INFO x", "plain words", "", "  indented", '{"level": 1}',
                 "Traceback (most recent call last):", '  File "/a.py", line 1, in f', "ERROR: x",
                 "The above exception was the direct cause of the following exception:", "[0m2024-05-01 INFO",
                 "2024-05-01 10:00:00 INFO [Previous line", "END RequestId: x", "INFO " + "y" * 9000]


@pytest.mark.parametrize("frames", [
    '  File "/a.py", line 1, in f\n    x()\n',
    '  File "/a.py", line 1, in f\n    x()\n  File "/b.py", line 2, in g\n',
    '  File "/a.py", line 1, in f\n    x()\n    ^^^\n',
])
def test_the_end_of_a_traceback_is_read_as_line_by_line(frames: str) -> None:
    """Every exception line and record line after a run of frames (where a run ends)."""
    for ending in ("\n", "\r\n"):
        for exc in _EXCEPTION_LINES:
            for record in _RECORD_LINES:
                text = f"x\nTraceback (most recent call last):\n{frames}{exc}\n{record}\nmore\n"
                data = text.replace("\n", ending).encode()
                assert dump(_by_stream(data, 1 << 16)) == dump(_by_lines(data)), (exc, record, ending)
