"""Fingerprint v2: one defect is one error wherever its code ran (issue #12, point 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from selfheal.cli import cli
from selfheal.domain.extract import extract_from_text
from selfheal.domain.fingerprint import VERSION, FingerprintConfig, fingerprint
from selfheal.domain.paths import RepoIndex, app_path, identity_name, library_path, strip_deploy_root

ROOTS = [
    "/srv/releases/20261201/svc/",  # two release folders of one deployment
    "/srv/releases/20261206/svc/",
    "/var/task/",  # Lambda
    "/home/runner/work/svc/svc/",  # a GitHub Actions checkout
    "/builds/acme/svc/",  # a GitLab CI checkout
    "/home/alice/src/svc/",  # two local clones
    "/Users/bob/work/svc-clone/",
]


def traceback_text(root: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "{root}app.py", line 12, in handler\n'
        "    return mean(event['values'])\n"
        f'  File "{root}calc/stats.py", line 4, in mean\n'
        "    return total / count\n"
        "ZeroDivisionError: division by zero\n"
    )


def test_version_is_v2_and_records_default_to_it() -> None:
    from selfheal.domain.records import ErrorRecord, Observation

    assert VERSION == "v2"
    assert Observation(fingerprint="x", exc_type="E", message="").fingerprint_version == VERSION
    assert ErrorRecord(fingerprint="x").fingerprint_version == VERSION


@pytest.mark.parametrize(("path", "expected"), [
    ("/var/task/calc/stats.py", "calc/stats.py"),
    ("/opt/python/shared/util.py", "shared/util.py"),
    ("/app/calc/stats.py", "calc/stats.py"),
    ("/usr/src/app/calc/stats.py", "calc/stats.py"),
    ("/srv/releases/20261206/calc/stats.py", "calc/stats.py"),
    ("/srv/orders/releases/v1.4.2/calc/stats.py", "calc/stats.py"),
    ("/opt/deploy/3f9a1c2b7d4e/calc/stats.py", "calc/stats.py"),
    ("/var/www/orders/releases/2026-12-06T10-00-00/calc/stats.py", "calc/stats.py"),
    ("/home/runner/work/svc/svc/calc/stats.py", "calc/stats.py"),
    ("/builds/acme/svc/calc/stats.py", "calc/stats.py"),
    ("/home/alice/src/svc/calc/stats.py", None),  # no known root: the caller decides
    ("calc/api/v2/views.py", None),  # a relative path and `v2` (no dot) is not a release folder
])
def test_deploy_roots_are_stripped(path: str, expected: str | None) -> None:
    assert strip_deploy_root(path) == expected


def test_library_paths_are_relative_to_their_import_root() -> None:
    venv = "/home/a/.venv/lib/python3.12/site-packages/"
    assert library_path(venv + "requests/models.py") == "requests/models.py"
    assert library_path("/usr/lib/python3/dist-packages/yaml/reader.py") == "yaml/reader.py"
    assert library_path("/usr/lib/python3.11/json/decoder.py") == "json/decoder.py"
    assert library_path("/var/runtime/bootstrap.py") == "bootstrap.py"
    assert library_path("/var/task/app.py") is None


def test_identity_name_keeps_the_package_of_an_init() -> None:
    assert identity_name("/var/task/orders/__init__.py") == "orders/__init__.py"
    assert identity_name("C:\\svc\\calc\\stats.pyc") == "stats.py"


def test_repository_files_map_by_longest_suffix_and_refuse_ties() -> None:
    index = RepoIndex(("calc/stats.py", "app.py", "a/util.py", "b/util.py"))
    assert index.map("/srv/releases/20261206/svc/calc/stats.py") == "calc/stats.py"
    assert index.map("/home/alice/src/svc/app.py") == "app.py"
    assert index.map("/x/util.py") is None  # a/util.py and b/util.py match equally
    assert index.map("/x/a/util.py") == "a/util.py"
    assert app_path("/srv/releases/20261206/svc/calc/stats.py", repo=index) == "calc/stats.py"
    assert app_path("/srv/releases/20261206/svc/calc/stats.py") == "svc/calc/stats.py"


def test_every_root_gives_one_fingerprint_whatever_the_configuration() -> None:
    index = RepoIndex(("app.py", "calc/stats.py"))
    configs = [FingerprintConfig(), FingerprintConfig(repo=index),
               FingerprintConfig(app_roots=("/home/alice/src/svc/",))]
    tbs = [extract_from_text(traceback_text(root))[0] for root in ROOTS]
    ids = {fingerprint(tb, cfg).id for tb in tbs for cfg in configs}
    assert len(ids) == 1
    fp = fingerprint(extract_from_text(traceback_text(ROOTS[0]))[0], FingerprintConfig(repo=index))
    assert [f.file for f in fp.in_app_frames] == ["app.py", "calc/stats.py"]


def test_files_of_the_same_name_stay_apart_by_function_and_source() -> None:
    a = extract_from_text(traceback_text("/var/task/"))[0]
    b = extract_from_text(traceback_text("/var/task/").replace("in mean", "in median"))[0]
    assert fingerprint(a).id != fingerprint(b).id


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
    env["HOME"] = str(tmp_path)
    return env


def test_parse_cli_gives_one_fingerprint_for_every_root_without_configuration(tmp_path: Path) -> None:
    log = "".join(f"2026-12-06 10:00:0{i} ERROR request failed\n" + traceback_text(root)
                  for i, root in enumerate(ROOTS))
    proc = subprocess.run([sys.executable, "-m", "selfheal.cli.parse", "--json", "-"], input=log.encode(),
                          capture_output=True, cwd=tmp_path, env=_clean_env(tmp_path), check=True,
                          timeout=120)
    found = json.loads(proc.stdout)["tracebacks"]
    assert len(found) == len(ROOTS)
    assert len({t["fingerprint"] for t in found}) == 1


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "svc"
    (repo / "calc").mkdir(parents=True)
    (repo / "app.py").write_text("def handler(event):\n    return mean(event['values'])\n")
    (repo / "calc" / "stats.py").write_text("def mean(v):\n    return total / count\n")
    return repo


def test_ingest_with_repo_records_one_error_with_repository_relative_paths(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    log = tmp_path / "all.log"
    log.write_text("".join(traceback_text(root) for root in ROOTS))
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(cli, ["ingest", str(log), "--home", str(tmp_path / "home"), "--repo", str(repo),
                                 "--json"], catch_exceptions=False)
    report = json.loads(result.output)
    assert (report["tracebacks"], report["distinct"], len(report["new"])) == (len(ROOTS), 1, 1)
    from selfheal.adapters.sqlite_store import SqliteErrorStore

    rec = SqliteErrorStore(tmp_path / "home" / "errors.db").get(report["new"][0])
    assert rec is not None and rec.count == len(ROOTS) and rec.fingerprint_version == "v2"
    assert [f.file for f in rec.frames] == ["app.py", "calc/stats.py"]
    assert rec.location == "calc/stats.py:4"  # what PR bodies and `errors` show
    # The same fingerprint `parse --repo` prints.
    parsed = runner.invoke(cli, ["parse", str(log), "--json", "--repo", str(repo)], catch_exceptions=False)
    assert {t["fingerprint"] for t in json.loads(parsed.output)["tracebacks"]} == {rec.fingerprint}


def test_ignore_paths_match_repository_relative_paths(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "pyproject.toml").write_text('[tool.selfheal]\nignore_paths = ["calc/*"]\n')
    log = tmp_path / "a.log"
    log.write_text(traceback_text("/srv/releases/20261206/svc/"))
    args = ["ingest", str(log), "--home", str(tmp_path / "home"), "--repo", str(repo), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    report = json.loads(result.output)
    assert report["ignored"] == report["new"] and len(report["new"]) == 1


def test_parse_without_configuration_uses_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from selfheal.cli import parse as parse_cli
    from selfheal.compose.store import build_fingerprint_config
    from selfheal.settings import ENV_PREFIX, load_settings

    assert parse_cli._ENV_PREFIX == ENV_PREFIX
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    assert parse_cli._fingerprint_config(None) == build_fingerprint_config(load_settings(env={}))
    monkeypatch.setenv(ENV_PREFIX + "APP_ROOTS", "/opt/svc/")
    assert parse_cli._fingerprint_config(None).app_roots == ("/opt/svc/",)
