"""Each static gate with hostile input (the service runs them in this order)."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.domain.edit_format import parse_reply
from selfheal.domain.fixing import EditProposal, SearchReplace
from selfheal.validation import gates

APP = "def handle(event):\n    items = event['items']\n    return len(items)\n"


def one(path: str, search: str, replace: str) -> EditProposal:
    return EditProposal(edits=[SearchReplace(path=path, search=search, replace=replace)])


def test_non_empty_rejects_abstention_and_no_op() -> None:
    assert not gates.non_empty(EditProposal(abstain_reason="not sure")).passed
    noop = gates.non_empty(one("app.py", "x\n", "x\n"))
    assert not noop.passed and noop.detail == "the edit changes nothing"
    assert gates.non_empty(one("app.py", "x\n", "y\n")).passed


def test_allowed_files_only_offered_plus_new_test_modules() -> None:
    ok = EditProposal(edits=[SearchReplace(path="app.py", search="a", replace="b"),
                             SearchReplace(path="tests/test_new.py", search="",
                                           replace="def test(): pass\n")])
    assert gates.allowed_files(ok, ["app.py"]).passed
    other = gates.allowed_files(one("billing.py", "a", "b"), ["app.py"])
    assert not other.passed and other.evidence["rejected"] == ["billing.py"]
    # Editing an EXISTING test file that was not offered is not "a new test file".
    assert not gates.allowed_files(one("tests/test_app.py", "assert x", "pass"), ["app.py"]).passed
    # A new conftest.py could switch the whole suite off: never allowed as a "new test file".
    conftest = gates.allowed_files(one("tests/conftest.py", "", "collect_ignore_glob = ['*']\n"), ["app.py"])
    assert not conftest.passed


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", "app/../../x.py", "C:/win.py",
                                  "tests/../../evil/test_x.py", "./app.py"])
def test_inside_repo_rejects_path_traversal(path: str) -> None:
    result = gates.inside_repo(one(path, "a", "b"))
    assert not result.passed
    assert path in result.evidence["problems"]


def test_inside_repo_rejects_symlink_escapes(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("KEY = 1\n")
    tree = tmp_path / "tree"
    (tree / "app").mkdir(parents=True)
    (tree / "app" / "real.py").write_text(APP)
    (tree / "app" / "link.py").symlink_to(outside / "secret.py")        # file symlink leaving the tree
    (tree / "vendor").symlink_to(outside, target_is_directory=True)     # directory symlink leaving it
    (tree / "alias.py").symlink_to(tree / "app" / "real.py")            # symlink staying inside

    assert gates.inside_repo(one("app/real.py", "a", "b"), tree).passed
    file_link = gates.inside_repo(one("app/link.py", "KEY = 1\n", "KEY = 2\n"), tree)
    assert not file_link.passed and "outside the repository" in file_link.detail
    dir_link = gates.inside_repo(one("vendor/secret.py", "KEY = 1\n", "KEY = 2\n"), tree)
    assert not dir_link.passed and "directory 'vendor'" in dir_link.detail
    new_through_link = gates.inside_repo(one("vendor/tests/test_x.py", "", "x = 1\n"), tree)
    assert not new_through_link.passed
    assert not gates.inside_repo(one("alias.py", "a", "b"), tree).passed
    assert (outside / "secret.py").read_text() == "KEY = 1\n"


@pytest.mark.parametrize("path", [".github/workflows/ci.yml", ".gitlab-ci.yml", ".circleci/config.yml",
                                  "Jenkinsfile", "template.yaml", "infra/main.tf", "cdk.json", "Dockerfile",
                                  "svc/Dockerfile", "poetry.lock", "uv.lock", "requirements-dev.txt",
                                  "Pipfile.lock", "package-lock.json", ".env", ".env.production",
                                  "certs/server.pem", "id_rsa", "home/.ssh/id_ed25519", ".git/config",
                                  "pyproject.toml", ".GitHub/Workflows/CI.yml", "DOCKERFILE", ".git",
                                  "sub/.git/hooks/pre-commit"])
def test_deny_list_default(path: str) -> None:
    result = gates.deny_list(one(path, "a", "b"))
    assert not result.passed, path
    assert path in result.evidence["denied"]


def test_deny_list_allows_source_and_honours_settings_globs() -> None:
    assert gates.deny_list(one("app/handler.py", "a", "b")).passed
    assert gates.deny_list(one("app/github_client.py", "a", "b")).passed  # not ".github/"
    assert not gates.deny_list(one("app/migrations/0001.py", "a", "b"), ["migrations/"]).passed
    assert not gates.deny_list(one("app/settings_prod.py", "a", "b"), ["*_prod.py"]).passed


def test_size_limit() -> None:
    big = one("app.py", "x\n", "y = 1\n" * 1000)
    result = gates.size(big, 1000)
    assert not result.passed and result.evidence["bytes"] > 1000
    assert gates.size(one("app.py", "x\n", "y\n"), 1000).passed


TESTS = '''import pytest
from app import handle


def test_counts():
    assert handle({"items": [1, 2]}) == 2


def test_missing_items():
    with pytest.raises(KeyError):
        handle({})
'''


def test_no_test_deletion_rejects_removed_test() -> None:
    reply = ("<<<<<<< SEARCH tests/test_app.py\n\n\ndef test_missing_items():\n"
             "    with pytest.raises(KeyError):\n        handle({})\n=======\n>>>>>>> REPLACE\n")
    proposal = parse_reply(reply, ["tests/test_app.py"])
    result = gates.no_test_deletion(proposal, {"tests/test_app.py": TESTS})
    assert not result.passed
    assert "test test_missing_items removed" in result.detail


@pytest.mark.parametrize("search, replace, problem", [
    ('    assert handle({"items": [1, 2]}) == 2\n', '    handle({"items": [1, 2]})\n', "assertion"),
    ('    assert handle({"items": [1, 2]}) == 2\n', "    assert True\n", "assertion"),
    ("def test_counts():\n", "@pytest.mark.skip(reason='flaky')\ndef test_counts():\n", "skip"),
    ("def test_counts():\n", "def _test_counts():\n", "removed"),
    ("import pytest\n", "import pytest\npytestmark = pytest.mark.skip\n", "pytestmark"),
])
def test_no_test_deletion_rejects_weakening(search: str, replace: str, problem: str) -> None:
    result = gates.no_test_deletion(one("tests/test_app.py", search, replace), {"tests/test_app.py": TESTS})
    assert not result.passed
    assert problem in result.detail


def test_no_test_deletion_when_the_edit_does_not_apply_uses_the_block_text() -> None:
    block = one("tests/test_app.py", "def test_gone():\n    assert x\n", "")
    assert not gates.no_test_deletion(block, {"tests/test_app.py": TESTS}).passed


def test_no_test_deletion_accepts_stronger_tests_and_source_edits() -> None:
    stronger = one("tests/test_app.py", '    assert handle({"items": [1, 2]}) == 2\n',
                   '    assert handle({"items": [1, 2]}) == 2\n    assert handle({"items": []}) == 0\n')
    assert gates.no_test_deletion(stronger, {"tests/test_app.py": TESTS}).passed
    assert gates.no_test_deletion(one("app.py", "    return len(items)\n", ""), {"app.py": APP}).passed


def test_applies_and_reports_changed_files() -> None:
    ok, changed = gates.applies(one("app.py", "event['items']", "event.get('items', [])"), {"app.py": APP})
    assert ok.passed and "event.get('items', [])" in changed["app.py"]
    bad, nothing = gates.applies(one("app.py", "not there", "x"), {"app.py": APP})
    assert not bad.passed and nothing == {} and "not found" in bad.detail


def test_parses_rejects_broken_syntax() -> None:
    result = gates.parses({"app.py": "def handle(event:\n    return 1\n", "notes.txt": "not python ("})
    assert not result.passed
    assert list(result.evidence["syntax_errors"]) == ["app.py"]
    assert gates.parses({"app.py": APP}).passed


@pytest.mark.parametrize("path, text", [("conf/settings.json", '{"a": 1,}'), ("conf/app.toml", "a = [1,\n"),
                                        ("conf/app.yaml", "a: [1, 2\n")])
def test_parses_checks_data_files(path: str, text: str) -> None:
    result = gates.parses({path: text})
    assert not result.passed and path in result.evidence["syntax_errors"]


def test_lint_rejects_new_undefined_name_only() -> None:
    before = {"app.py": APP + "\n\ndef legacy():\n    return undefined_thing\n"}
    changed = {"app.py": before["app.py"].replace("len(items)", "count(items)")}
    result = gates.lint(before, changed)
    assert not result.passed
    assert [f["message"] for f in result.evidence["new_findings"]] == ["undefined name 'count'"]
    # The pre-existing finding moves lines but is not new; unused imports are not fatal.
    shifted = {"app.py": "import os\n\n\n" + before["app.py"]}
    assert gates.lint(before, shifted).passed


def test_lint_undefined_export_counts() -> None:
    result = gates.lint({"m.py": "x = 1\n__all__ = ['x']\n"}, {"m.py": "x = 1\n__all__ = ['x', 'y']\n"})
    assert not result.passed and result.evidence["new_findings"][0]["kind"] == "UndefinedExport"
