import pytest

from selfheal.domain.edit_format import apply_proposal, normalise_path, parse_reply, render_proposal
from selfheal.domain.fixing import EditProposal, SearchReplace
from selfheal.errors import EditRejected, ModelReplyMalformed, PatchDoesNotApply

REPLY = """Some chatter the model adds.
ROOT CAUSE: the handler indexes a key that clients may omit.
SUMMARY: default to an empty list
<<<<<<< SEARCH app/handler.py
    items = order["order_items"]
=======
    items = order.get("order_items", [])
>>>>>>> REPLACE
"""
FILES = {"app/handler.py": 'def handle(order):\n    items = order["order_items"]\n    return len(items)\n'}


def test_parse_and_apply() -> None:
    p = parse_reply(REPLY, ["app/handler.py"])
    assert p.root_cause.startswith("the handler indexes")
    assert p.summary == "default to an empty list"
    assert p.edits == [SearchReplace(path="app/handler.py", search='    items = order["order_items"]\n',
                                     replace='    items = order.get("order_items", [])\n')]
    out = apply_proposal(FILES, p)
    assert out == {"app/handler.py": 'def handle(order):\n    items = order.get("order_items", [])\n'
                                     "    return len(items)\n"}


def test_round_trip() -> None:
    p = parse_reply(REPLY, ["app/handler.py"])
    assert parse_reply(render_proposal(p), ["app/handler.py"]) == p


def test_abstain() -> None:
    p = parse_reply("ABSTAIN: the module is missing from the image\n", [])
    assert p.abstained and p.abstain_reason == "the module is missing from the image"
    with pytest.raises(ModelReplyMalformed, match="both abstains"):
        parse_reply("ABSTAIN: no\n" + REPLY, ["app/handler.py"])


@pytest.mark.parametrize("reply, match", [
    ("just prose", "no edit blocks"),
    ("<<<<<<< SEARCH a.py\nx\n=======\ny\n", "not closed"),
    ("<<<<<<< SEARCH a.py\nx\n>>>>>>> REPLACE\n", "before"),
    ("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "without a file path"),
    ("=======\n", "outside a SEARCH block"),
])
def test_malformed(reply: str, match: str) -> None:
    with pytest.raises(ModelReplyMalformed, match=match):
        parse_reply(reply, ["a.py"])


@pytest.mark.parametrize("path", [".github/workflows/ci.yml", "../etc/passwd", "/etc/passwd",
                                  "C:/x.py", "app/../../x.py", "other.py"])
def test_unoffered_or_escaping_paths_rejected(path: str) -> None:
    reply = f"<<<<<<< SEARCH {path}\nx\n=======\ny\n>>>>>>> REPLACE\n"
    with pytest.raises(EditRejected):
        parse_reply(reply, ["app/handler.py"])


def test_new_test_file_allowed_but_not_new_source_file() -> None:
    ok = "<<<<<<< SEARCH tests/test_regression.py\n=======\ndef test_x():\n    pass\n>>>>>>> REPLACE\n"
    p = parse_reply(ok, ["app/handler.py"])
    assert apply_proposal(FILES, p) == {"tests/test_regression.py": "def test_x():\n    pass\n"}
    with pytest.raises(EditRejected):
        parse_reply(ok.replace("tests/test_regression.py", "app/new.py"), ["app/handler.py"])


def test_ambiguous_and_missing_search() -> None:
    files = {"a.py": "x = 1\nx = 1\n"}
    with pytest.raises(PatchDoesNotApply, match="2 times"):
        apply_proposal(files, EditProposal(edits=[SearchReplace(path="a.py", search="x = 1\n", replace="")]))
    with pytest.raises(PatchDoesNotApply, match="not found"):
        apply_proposal(files, EditProposal(edits=[SearchReplace(path="a.py", search="y\n", replace="")]))
    with pytest.raises(PatchDoesNotApply, match="does not exist"):
        apply_proposal(files, EditProposal(edits=[SearchReplace(path="b.py", search="y\n", replace="")]))


def test_normalise_path() -> None:
    assert normalise_path("./app\\handler.py") == "app/handler.py"
    with pytest.raises(EditRejected):
        normalise_path("a\x00b")


def test_crlf_file_matches_lf_reply() -> None:
    files = {"a.py": "def f(d):\r\n    return d['k']\r\n"}
    reply = "<<<<<<< SEARCH a.py\n    return d['k']\n=======\n    return d.get('k')\n>>>>>>> REPLACE\n"
    out = apply_proposal(files, parse_reply(reply, ["a.py"]))
    assert out == {"a.py": "def f(d):\r\n    return d.get('k')\r\n"}
