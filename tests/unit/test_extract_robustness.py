"""Bad input never crashes or hangs the extractor, and one traceback never grows without limit."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest

from selfheal.domain.extract import extract_from_text, extract_tracebacks

pytestmark = pytest.mark.timeout(60)

TB = (
    "Traceback (most recent call last):\n"
    '  File "/app/svc/api.py", line 8, in get\n'
    "    return items[i]\n"
    "IndexError: list index out of range\n"
)


def garbage(seed: int, size: int) -> str:
    rng = random.Random(seed)
    return rng.randbytes(size).decode("utf-8", errors="replace")


def test_binary_garbage_around_a_traceback() -> None:
    text = garbage(1, 200_000) + "\n" + TB + garbage(2, 200_000)
    found = extract_from_text(text)
    assert [t.final.type for t in found] == ["IndexError"]


def test_garbage_alone_yields_nothing_or_well_formed_results() -> None:
    for seed in range(20):
        for tb in extract_from_text(garbage(seed, 50_000)):
            assert tb.chain and tb.to_dict()["chain"]


def test_nul_bytes_inside_and_around_a_traceback() -> None:
    text = "\x00\x00start\x00\n" + TB.replace("items[i]", "items[\x00i]") + "\x00" * 1000 + "\n"
    (tb,) = extract_from_text(text)
    assert tb.final.frames[0].file == "/app/svc/api.py"
    assert tb.final.frames[0].source == "return items[i]"


def test_invalid_utf8_decoded_with_replacement() -> None:
    data = b"\xff\xfe\xfa broken\n" + TB.encode().replace(b"items", b"it\xc3\x28ms") + b"\xed\xa0\x80\n"
    (tb,) = extract_from_text(data.decode("utf-8", errors="replace"))
    assert tb.final.type == "IndexError"
    assert "\ufffd" in (tb.final.frames[0].source or "")


@pytest.mark.parametrize(
    "line",
    [
        "x" * 10_000_000,
        ('File "' + "a" * 1000 + '", line 1, in f ') * 9_000,
        ("Traceback (most recent call last):\\n" + '\\"' * 50) * 100_000,
        "Traceback (most recent call last): " + "(" * 10_000_000,
        '{"errorType": "E", "stackTrace": [' + '"x",' * 2_000_000 + '"y"]}',
    ],
    ids=["plain", "frames", "escaped", "parens", "lambda-json"],
)
def test_a_ten_megabyte_line_is_handled(line: str) -> None:
    text_lines = ["before", line, *TB.splitlines(), "after"]
    found = list(extract_tracebacks(text_lines))
    assert found[-1].final.type == "IndexError"
    assert all(len(t.raw) <= 256 * 1024 for t in found)


def test_traceback_cut_at_end_of_input_is_returned_truncated() -> None:
    cut = TB.splitlines()[:3]
    (tb,) = list(extract_tracebacks(cut))
    assert tb.truncated
    assert tb.final.type is None
    assert [(f.file, f.line) for f in tb.final.frames] == [("/app/svc/api.py", 8)]


def deep_recursion(n: int) -> Iterator[str]:
    yield "Traceback (most recent call last):"
    yield '  File "/app/svc/main.py", line 3, in <module>'
    yield "    walk(0)"
    for i in range(n):
        yield f'  File "/app/svc/tree.py", line {10 + i % 7}, in walk'
        yield "    return walk(depth + 1)"
    yield "RecursionError: maximum recursion depth exceeded"
    yield "INFO next request"


def test_hundred_thousand_frame_recursion_is_capped_and_keeps_the_exception() -> None:
    (tb,) = list(extract_tracebacks(deep_recursion(100_000), max_frames=1000))
    assert tb.truncated
    assert tb.final.type == "RecursionError"
    assert 1000 <= len(tb.final.frames) <= 1100
    assert tb.final.frames[0].file == "/app/svc/main.py"
    assert tb.final.frames[-1].function == "walk"
    assert len(tb.raw) <= 256 * 1024


def test_byte_cap_marks_truncated() -> None:
    big_source = "x = " + "1 + " * 3000 + "1"
    lines = ["Traceback (most recent call last):"]
    for i in range(400):
        lines += [f'  File "/app/m{i}.py", line {i + 1}, in f{i}', "    " + big_source]
    lines.append("ValueError: too big")
    (tb,) = list(extract_tracebacks(lines, max_bytes=64 * 1024))
    assert tb.truncated and tb.final.type == "ValueError"
    assert len(tb.raw) <= 64 * 1024


def test_endless_message_lines_end_the_block() -> None:
    lines = [*TB.splitlines(), *(f"more detail {i}" for i in range(10_000)), *TB.splitlines()]
    found = list(extract_tracebacks(lines))
    assert len(found) == 2
    assert len(found[0].final.message.splitlines()) <= 51


def test_escaped_json_traceback_cut_mid_string() -> None:
    line = json.dumps({"exception": TB})[: len(TB) - 10]
    (tb,) = list(extract_tracebacks([line]))
    assert tb.final.frames[0].function == "get"
