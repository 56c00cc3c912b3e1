"""The extractor reads every traceback format named in the Foundation issue (item 4)."""

from __future__ import annotations

import json

from selfheal.domain.extract import extract_from_text, extract_tracebacks
from selfheal.domain.traceback import Traceback

PLAIN = """\
Traceback (most recent call last):
  File "/var/task/app/handler.py", line 42, in handle
    order = load(event["id"])
  File "/var/task/app/store.py", line 17, in load
    return ROWS[key]
KeyError: 'abc'
"""


def frames(tb: Traceback, link: int = -1) -> list[tuple[str, int | None, str | None]]:
    return [(f.file, f.line, f.function) for f in tb.chain[link].frames]


def only(text: str) -> Traceback:
    found = extract_from_text(text)
    assert len(found) == 1, found
    return found[0]


def test_plain_cpython_traceback_with_source_lines() -> None:
    tb = only("INFO starting\n" + PLAIN + "INFO next request\n")
    assert tb.final.type == "KeyError"
    assert tb.final.message == "'abc'"
    assert frames(tb) == [("/var/task/app/handler.py", 42, "handle"), ("/var/task/app/store.py", 17, "load")]
    assert tb.final.frames[1].source == "return ROWS[key]"
    assert (tb.first_line, tb.last_line) == (2, 7)
    assert not tb.truncated


def test_lines_with_or_without_terminators_give_the_same_result() -> None:
    with_nl = list(extract_tracebacks(PLAIN.splitlines(keepends=True)))
    without = list(extract_tracebacks(PLAIN.splitlines()))
    assert [t.to_dict() for t in with_nl] == [t.to_dict() for t in without]


def test_python27_traceback_and_tuple_message() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/base/data/home/apps/s~app/1.2/main.py", line 17, in start\n'
        "    return get()\n"
        "Exception: ('spam', 'eggs')\n"
    )
    tb = only(text)
    assert tb.final.type == "Exception"
    assert tb.final.message == "('spam', 'eggs')"


def test_chained_cause_and_context_in_printed_order() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "a.py", line 1, in f\n    1/0\nZeroDivisionError: division by zero\n\n'
        "During handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "a.py", line 3, in f\n    raise ValueError("x")\nValueError: x\n\n'
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        '  File "a.py", line 9, in main\n    f()\nRuntimeError: wrapped\n'
    )
    tb = only(text)
    assert [(link.type, link.link) for link in tb.chain] == [
        ("ZeroDivisionError", None),
        ("ValueError", "context"),
        ("RuntimeError", "cause"),
    ]


def test_exception_group_nested_with_more_exceptions() -> None:
    text = """\
  + Exception Group Traceback (most recent call last):
  |   File "app.py", line 10, in <module>
  |     main()
  | ExceptionGroup: outer (3 sub-exceptions)
  +-+---------------- 1 ----------------
    | Exception Group Traceback (most recent call last):
    |   File "app.py", line 5, in main
    |     raise ExceptionGroup("inner", [TypeError(1)])
    | ExceptionGroup: inner (1 sub-exception)
    +-+---------------- 1 ----------------
      | TypeError: 1
      +------------------------------------
    +---------------- 2 ----------------
    | Traceback (most recent call last):
    |   File "app.py", line 7, in work
    |     raise ValueError("bad")
    | ValueError: bad
    +---------------- ... ----------------
    | and 1 more exception
    +------------------------------------
"""
    tb = only(text)
    group = tb.final
    assert group.is_group and group.type == "ExceptionGroup"
    assert group.more_exceptions == 1
    assert frames(tb) == [("app.py", 10, "<module>")]
    inner, second = group.exceptions
    assert inner.final.is_group and inner.final.exceptions[0].final.type == "TypeError"
    assert second.final.type == "ValueError"
    assert [(f.file, f.line) for f in second.final.frames] == [("app.py", 7)]
    assert tb.to_dict()["chain"][-1]["exceptions"][1]["chain"][-1]["type"] == "ValueError"


def test_syntax_error_location_is_not_a_frame_with_or_without_header() -> None:
    with_header = (
        "Traceback (most recent call last):\n"
        '  File "/app/run.py", line 3, in <module>\n    compile(src, "<string>", "exec")\n'
        '  File "<string>", line 1\n    a = 7 *\n           ^\nSyntaxError: invalid syntax\n'
    )
    tb = only(with_header)
    assert tb.final.type == "SyntaxError"
    assert frames(tb) == [("/app/run.py", 3, "<module>")]
    bare = only('  File "/app/bad.py", line 4\n    def f(:\n          ^\nSyntaxError: invalid syntax\n')
    assert bare.final.type == "SyntaxError" and bare.final.frames == []


def test_311_carets_and_repeated_lines() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "r.py", line 4, in <module>\n    f(1)\n'
        '  File "r.py", line 2, in f\n    return f(n + 1)\n           ^^^^^^^^\n'
        "  [Previous line repeated 996 more times]\n"
        "RecursionError: maximum recursion depth exceeded\n"
    )
    tb = only(text)
    assert frames(tb) == [("r.py", 4, "<module>"), ("r.py", 2, "f")]
    assert tb.final.elided_frames == 996
    assert tb.final.frames[1].source == "return f(n + 1)"


def test_per_line_prefixes_are_stripped() -> None:
    stamped = "".join(
        f"2024-05-01T10:00:0{i}.12{i}Z stderr F {line}\n" for i, line in enumerate(PLAIN.splitlines())
    )
    compose = "".join(f"web_1  | {line}\n" for line in PLAIN.splitlines())
    for text in (stamped, compose):
        tb = only(text)
        assert tb.final.type == "KeyError"
        assert frames(tb)[1] == ("/var/task/app/store.py", 17, "load")


def test_log_record_header_then_unprefixed_traceback_then_next_record() -> None:
    text = (
        "2024-05-01 10:00:00,123 ERROR [req-1] unhandled\n" + PLAIN
        + "2024-05-01 10:00:01,000 INFO [req-2] ok\n"
    )
    tb = only(text)
    assert tb.final.message == "'abc'"


def test_ansi_colours_are_removed() -> None:
    text = (
        "\x1b[33m\x1b[1mTraceback (most recent call last):\x1b[0m\n"
        '  File "\x1b[32mapp/\x1b[0m\x1b[32m\x1b[1mx.py\x1b[0m", line \x1b[33m3\x1b[0m, in \x1b[35mf\x1b[0m\n'
        "    \x1b[1m1\x1b[0m / \x1b[1m0\x1b[0m\n"
        "\x1b[31m\x1b[1mZeroDivisionError\x1b[0m:\x1b[1m division by zero\x1b[0m\n"
    )
    tb = only(text)
    assert frames(tb) == [("app/x.py", 3, "f")]
    assert tb.final.message == "division by zero"


def test_json_log_lines_with_escaped_traceback() -> None:
    exc = PLAIN.rstrip("\n")
    powertools = json.dumps(
        {"level": "ERROR", "message": "boom", "exception": exc, "exception_name": "KeyError"}
    )
    pjl = json.dumps({"asctime": "2024", "exc_info": exc})
    text = "\n".join(["{\"level\": \"INFO\"}", powertools, pjl]) + "\n"
    found = extract_from_text(text)
    assert [t.final.type for t in found] == ["KeyError", "KeyError"]
    assert all(frames(t)[0] == ("/var/task/app/handler.py", 42, "handle") for t in found)


def test_lambda_error_first_format_with_cr_separators_and_nbsp() -> None:
    nb = "\u00a0"
    text = (
        "[ERROR] KeyError: 'order_id'\rTraceback (most recent call last):\r"
        f'{nb * 2}File "/var/task/app.py", line 9, in handler\r{nb * 4}return event["order_id"]\n'
    )
    tb = only(text)
    assert (tb.final.type, tb.final.message) == ("KeyError", "'order_id'")
    assert frames(tb) == [("/var/task/app.py", 9, "handler")]
    assert tb.final.frames[0].source == 'return event["order_id"]'


def test_legacy_lambda_message_type_line_and_lost_indentation() -> None:
    text = (
        "START RequestId: 1 Version: $LATEST\n"
        "'order_id': KeyError\n"
        "Traceback (most recent call last):\n"
        'File "/var/task/lambda_function.py", line 5, in lambda_handler\n'
        "return event['order_id']\n"
        "END RequestId: 1\n"
    )
    tb = only(text)
    assert (tb.final.type, tb.final.message) == ("KeyError", "order_id")
    assert frames(tb) == [("/var/task/lambda_function.py", 5, "lambda_handler")]
    assert tb.final.frames[0].source == "return event['order_id']"


def test_lambda_invoke_response_documents() -> None:
    strings = {
        "errorMessage": "'order_id'",
        "errorType": "KeyError",
        "requestId": "r1",
        "stackTrace": ['  File "/var/task/app.py", line 9, in handler\n    return event["order_id"]\n'],
    }
    lists = {
        "errorMessage": "division by zero",
        "errorType": "ZeroDivisionError",
        "stackTrace": [["/var/task/app.py", 3, "handler", "return 1 / 0"]],
    }
    found = extract_from_text(json.dumps(strings) + "\n" + json.dumps(lists) + "\n")
    assert [(t.final.type, t.final.message) for t in found] == [
        ("KeyError", "'order_id'"),
        ("ZeroDivisionError", "division by zero"),
    ]
    assert frames(found[0]) == [("/var/task/app.py", 9, "handler")]
    assert frames(found[1]) == [("/var/task/app.py", 3, "handler")]


def test_interleaved_lines_and_several_tracebacks_in_one_stream() -> None:
    access = '127.0.0.1 - - [01/May/2024 10:00:00] "GET /a HTTP/1.1" 200 -\n'
    uvicorn = 'INFO:     10.0.0.7:5000 - "GET /b HTTP/1.1" 500 Internal Server Error\n'
    second = PLAIN.replace("KeyError: 'abc'", "KeyError: 'x'")
    text = access + PLAIN + access + uvicorn + second + uvicorn
    found = extract_from_text(text)
    assert [t.final.message for t in found] == ["'abc'", "'x'"]
    assert [(t.first_line, t.last_line) for t in found] == [(2, 7), (10, 15)]


def test_ipython_renderings_old_and_new() -> None:
    old = """\
---------------------------------------------------------------------------
KeyError                                  Traceback (most recent call last)
<ipython-input-3-e2cc0e97941a> in <module>()
----> 1 d['x']

~/src/lib/mod.py in lookup(self, key)
     10     try:
---> 11         return self.table[key]
     12     except IndexError:

KeyError: 'x'
"""
    new = """\
---------------------------------------------------------------------------
ValueError                                Traceback (most recent call last)
Cell In[5], line 25
     24 set_config(x=1)
---> 25 run()

File ~/venv/lib/python3.10/site-packages/pkg/mod.py:150, in wrapped(self, X)
    149 def wrapped(self, X):
--> 150     return f(X)

ValueError: Length mismatch
"""
    tb_old = only(old)
    assert frames(tb_old) == [
        ("<ipython-input-3-e2cc0e97941a>", 1, "<module>"),
        ("~/src/lib/mod.py", 11, "lookup"),
    ]
    tb_new = only(new)
    assert frames(tb_new) == [
        ("Cell In[5]", 25, None),
        ("~/venv/lib/python3.10/site-packages/pkg/mod.py", 150, "wrapped"),
    ]
    assert tb_new.final.message == "Length mismatch"


def test_windows_paths() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "C:\\Users\\dev\\proj\\manage.py", line 22, in <module>\n    main()\n'
        '  File "D:\\venv\\Lib\\site-packages\\django\\core\\management\\__init__.py", line 419, in execute\n'
        "    django.setup()\n"
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must not be empty.\n"
    )
    tb = only(text)
    assert tb.final.type == "django.core.exceptions.ImproperlyConfigured"
    assert frames(tb)[0] == ("C:\\Users\\dev\\proj\\manage.py", 22, "<module>")


def test_multiline_message_and_exception_notes() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "a.py", line 1, in <module>\n    raise ValueError("first\\nsecond")\n'
        "ValueError: first\nsecond\nsee the docs\n\nunrelated prose\n"
    )
    tb = only(text)
    assert tb.final.message.splitlines() == ["first", "second", "see the docs"]


def test_django_debug_page_exception_lines() -> None:
    text = (
        "Traceback (most recent call last):\n"
        ' File "/srv/venv/lib/python3.6/site-packages/django/core/handlers/base.py", line 113,'
        " in _get_response\n"
        "\tresponse = wrapped_callback(request)\n"
        "Exception Type: TypeError at /module/\n"
        "Exception Value: modules() takes 1 positional argument\n"
    )
    tb = only(text)
    assert (tb.final.type, tb.final.message) == ("TypeError", "modules() takes 1 positional argument")


def test_prose_mentioning_tracebacks_is_not_a_traceback() -> None:
    text = (
        "The Traceback (most recent call last): header is printed by Python.\n"
        'A line such as File "x.py", line 3, in f is a frame.\n'
        "TypeError: a bare exception line without frames\n"
    )
    assert extract_from_text(text) == []


def test_docker_json_file_driver_one_record_per_line() -> None:
    records = [json.dumps({"log": line + "\n", "stream": "stderr", "time": f"2024-05-01T10:00:0{i}Z"})
               for i, line in enumerate(["INFO boot", *PLAIN.splitlines(), "INFO next request"])]
    tb = only("\n".join(records) + "\n")
    assert tb.final.type == "KeyError" and tb.final.message == "'abc'"
    assert frames(tb)[1] == ("/var/task/app/store.py", 17, "load")


def test_django_technical_500_text() -> None:
    text = (
        "Environment:\n\nRequest Method: GET\n\n"
        "Traceback:\n"
        'File "/usr/lib/python2.7/site-packages/django/core/handlers/base.py" in get_response\n'
        "  111.                     response = wrapped_callback(request, *callback_args, **callback_kwargs)\n"
        'File "/srv/shop/views.py" in detail\n'
        "  42.     return render(request, obj.template)\n\n"
        "Exception Type: AttributeError at /shop/1/\n"
        "Exception Value: 'NoneType' object has no attribute 'template'\n"
    )
    tb = only(text)
    assert tb.final.type == "AttributeError"
    assert tb.final.message == "'NoneType' object has no attribute 'template'"
    assert frames(tb) == [
        ("/usr/lib/python2.7/site-packages/django/core/handlers/base.py", 111, "get_response"),
        ("/srv/shop/views.py", 42, "detail"),
    ]
    assert tb.final.frames[1].source == "return render(request, obj.template)"


def test_colour_codes_that_lost_their_escape_byte() -> None:
    text = (
        "[0;31m---------------------------------------------------------------------------[0m\n"
        "[0;31mValueError[0m                                Traceback (most recent call last)\n"
        "Cell \x1b[0;32mIn[2], line 3\x1b[0m\n"
        "[1;32m----> 3[0m f()\n\n"
        "[0;31mValueError[0m: bad value\n"
    )
    tb = only(text)
    assert (tb.final.type, tb.final.message) == ("ValueError", "bad value")
    assert frames(tb) == [("Cell In[2]", 3, None)]


def test_skipped_frames_marker_and_repl_prompt_after_the_message() -> None:
    text = (
        ">>> walk(tree)\n"
        "Traceback (most recent call last):\n"
        '  File "<stdin>", line 1, in <module>\n'
        '  File "/srv/app/tree.py", line 5, in walk\n    return walk(node.left)\n'
        "[... skipping similar frames: walk at line 5 (990 times)]\n"
        '  File "/srv/app/tree.py", line 4, in walk\n    if node.value > limit:\n'
        "AttributeError: 'NoneType' object has no attribute 'value'\n"
        ">>> tree.left\n"
    )
    tb = only(text)
    assert [f.line for f in tb.final.frames] == [1, 5, 4]
    assert tb.final.message == "'NoneType' object has no attribute 'value'"


def test_json_records_with_traceback_as_list_or_nested_field() -> None:
    formatted = [line + "\n" for line in PLAIN.splitlines()]
    as_list = json.dumps({"level": "error", "exc_info": formatted})
    nested = json.dumps({"text": "boom", "record": {"exception": PLAIN}})
    found = extract_from_text(as_list + "\n" + nested + "\n")
    assert [frames(t)[1] for t in found] == [("/var/task/app/store.py", 17, "load")] * 2


def test_lambda_import_error_without_frames() -> None:
    text = (
        "START RequestId: 1 Version: $LATEST\n"
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'\r"
        "Traceback (most recent call last):\n"
        "END RequestId: 1\n"
    )
    tb = only(text)
    assert tb.final.type == "Runtime.ImportModuleError"
    assert tb.final.message == "Unable to import module 'app': No module named 'requests'"
    assert tb.final.frames == []


def test_error_document_with_a_whole_format_exception_list() -> None:
    doc = {
        "errorType": "KeyError",
        "errorMessage": "'abc'",
        "stackTrace": [line + "\n" for line in PLAIN.splitlines()],
    }
    tb = only(json.dumps(doc) + "\n")
    assert (tb.final.type, tb.final.message) == ("KeyError", "'abc'")
    assert len(tb.final.frames) == 2


def test_django_technical_500_without_a_header() -> None:
    text = (
        "Traceback (404):\n```\n"
        'File "/usr/local/lib/python3.5/site-packages/django/core/handlers/base.py" in get_response\n'
        "  149.                     response = self.process_exception_by_middleware(e, request)\n\n"
        'File "/usr/local/lib/python3.5/contextlib.py" in inner\n'
        "  30.                 return func(*args, **kwds)\n\n"
        "Exception Type: TypeError at /404/\n"
        "Exception Value: page_not_found() missing 1 required positional argument: 'exception'\n```\n"
    )
    tb = only(text)
    assert tb.final.type == "TypeError"
    assert [(f.line, f.function) for f in tb.final.frames] == [(149, "get_response"), (30, "inner")]


def test_traceback_in_a_python_repr_or_bare_escaped_text() -> None:
    escaped = PLAIN.rstrip("\n").replace("\n", "\\n")
    repr_line = f"2024-05-01 ERROR task failed: exc={PLAIN.rstrip()!r} retries=3\n"
    single = PLAIN.replace("'abc'", "abc").rstrip()
    single_repr_line = f"2024-05-01 ERROR task failed: exc={single!r} retries=3\n"
    bare_line = f"2024-05-01 ERROR task failed: {escaped}\n"
    for text in (repr_line, single_repr_line, bare_line):
        tb = only(text)
        assert tb.final.type == "KeyError" and tb.final.message.strip("'").startswith("abc")
        assert frames(tb)[1] == ("/var/task/app/store.py", 17, "load")


def test_long_lambda_event_keeps_every_frame() -> None:
    frames_text = "\r".join(
        f'\u00a0\u00a0File "/var/task/app/mod{i}.py", line {i + 1}, in f{i}\r\u00a0\u00a0\u00a0\u00a0g{i}()'
        for i in range(200)
    )
    text = f"[ERROR] ValueError: deep\rTraceback (most recent call last):\r{frames_text}\n"
    assert len(text) > 8 * 1024
    tb = only(text)
    assert len(tb.final.frames) == 200 and tb.final.frames[-1].function == "f199"


def test_function_name_eaten_by_an_html_renderer_still_counts_as_a_frame() -> None:
    text = (
        "Traceback (most recent call last):\n"
        'File "./run_analysis.py", line 230, in \n'
        "analysis(config)\n"
        'File "./run_analysis.py", line 173, in analysis\n'
        "seaice_timeseries(config)\n"
        "KeyError: 'IceArea'\n"
    )
    tb = only(text)
    assert frames(tb) == [("./run_analysis.py", 230, None), ("./run_analysis.py", 173, "analysis")]


def test_stamped_lines_after_the_exception_are_the_next_records() -> None:
    text = "".join(f"May 01 10:00:0{i} web1 app[123]: {line}\n" for i, line in enumerate(
        [*PLAIN.splitlines(), "GET / 200", "GET /health 200"]
    ))
    tb = only(text)
    assert tb.final.message == "'abc'"


def test_incremental_scanner_matches_the_batch_function() -> None:
    from selfheal.domain.extract import TracebackScanner

    text = "x\n" + PLAIN + "y\n" + PLAIN
    scanner = TracebackScanner(1000, 256 * 1024)
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        found.extend(scanner.feed(line, number))
    assert scanner.idle is False  # the last traceback's message may still continue
    found.extend(scanner.finish())
    assert scanner.idle
    assert [t.to_dict() for t in found] == [t.to_dict() for t in extract_from_text(text)]


def test_exception_group_with_a_compose_prefix_on_every_line() -> None:
    group = """\
  + Exception Group Traceback (most recent call last):
  |   File "/app/replay.py", line 41, in replay_all
  |     async with asyncio.TaskGroup() as tg:
  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File "/app/replay.py", line 28, in replay_one
    |     customer = find(request)["email"]
    | TypeError: 'NoneType' object is not subscriptable
    +------------------------------------
"""
    text = "".join(f"worker_1  | {line}\n" for line in group.splitlines())
    tb = only(text)
    assert tb.final.is_group and frames(tb) == [("/app/replay.py", 41, "replay_all")]
    (sub,) = tb.final.exceptions
    assert sub.final.type == "TypeError"
    assert [(f.file, f.line) for f in sub.final.frames] == [("/app/replay.py", 28)]
