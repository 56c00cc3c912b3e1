"""Packaging: each Lambda bundle holds only selfheal/ and functions/ (the Makefile that ``sam build``
runs, executed here with ``make``), and a wheel carries the fix workflow's ASL so an installed
selfheal (not a checkout) runs ``selfheal demo``."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from selfheal.adapters import asl_file
from selfheal.errors import ConfigurationError
from tests.support.deploy_sam import ASL, REPO, load_template

BUNDLE_SOURCES = ("selfheal", "functions")
WHEEL_ASL = "selfheal-0.1.0.data/data/share/selfheal/statemachine/fix_error.asl.json"
_CACHE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items()
            if res["Type"] == "AWS::Serverless::Function"}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_every_function_is_built_by_the_makefile_from_the_checkout() -> None:
    template = load_template()
    functions = _functions(template)
    assert len(functions) >= 12
    global_uri = template["Globals"]["Function"]["CodeUri"]
    for name, res in functions.items():
        assert res.get("Metadata", {}).get("BuildMethod") == "makefile", name
        assert res["Properties"].get("CodeUri", global_uri) == ".", name


def test_samconfig_builds_in_source_so_sam_does_not_copy_the_checkout_per_function() -> None:
    config = tomllib.loads((REPO / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["default"]["build"]["parameters"]["build_in_source"] is True


@pytest.fixture
def checkout_with_junk(tmp_path: Path) -> Path:
    """A copy of the code beside what a developer's checkout also holds (a virtualenv, tests,
    benchmarks, npm tools, docs, caches), none of which may reach a Lambda bundle."""
    src = tmp_path / "checkout"
    src.mkdir()
    shutil.copy2(REPO / "Makefile", src / "Makefile")
    for name in (*BUNDLE_SOURCES, "statemachine"):
        shutil.copytree(REPO / name, src / name, ignore=_CACHE)
    for junk in (".venv/lib/python3.12/site-packages/big.bin", "tests/test_x.py", "bench/run.py",
                 ".tools/node_modules/x.js", "docs/deployment.md", "layers/dependencies/requirements.txt",
                 "selfheal/__pycache__/errors.cpython-312.pyc", "selfheal/stray.pyc",
                 "functions/__pycache__/ingest.cpython-312.pyc"):
        (src / junk).parent.mkdir(parents=True, exist_ok=True)
        (src / junk).write_bytes(b"x" * 1024)
    return src


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_bundles_only_the_code_for_every_function(checkout_with_junk: Path, tmp_path: Path) -> None:
    expected = {f"{top}/{rel}" for top in BUNDLE_SOURCES
                for rel in _files(REPO / top) if "__pycache__" not in rel and not rel.endswith(".pyc")}
    for name, res in _functions(load_template()).items():
        artifacts = tmp_path / "build" / name
        run = subprocess.run(["make", "--no-print-directory", f"build-{name}", f"ARTIFACTS_DIR={artifacts}"],
                             cwd=checkout_with_junk, capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0, run.stderr
        assert sorted(p.name for p in artifacts.iterdir()) == sorted(BUNDLE_SOURCES), name
        bundle = _files(artifacts)
        assert bundle == expected, (name, sorted(bundle ^ expected)[:10])
        handler_module = res["Properties"]["Handler"].rsplit(".", 1)[0]
        assert handler_module.replace(".", "/") + ".py" in bundle, name


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_refuses_to_run_without_an_artifacts_dir(checkout_with_junk: Path) -> None:
    run = subprocess.run(["make", "build-IngestFunction"], cwd=checkout_with_junk, capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode != 0
    assert "ARTIFACTS_DIR is not set" in run.stderr


# --- the wheel ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the project (the checkout stays untouched), offline."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("selfheal", "statemachine"):
        shutil.copytree(REPO / name, src / name, ignore=_CACHE)
    out = tmp / "dist"
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "--no-index", "-q", "-w", str(out), str(src)],
                         capture_output=True, text=True, timeout=120, check=False, cwd=tmp)
    assert run.returncode == 0, run.stdout + run.stderr
    (found,) = out.glob("selfheal-*.whl")
    return found


def test_wheel_carries_the_asl_from_statemachine(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert WHEEL_ASL in names
        assert archive.read(WHEEL_ASL) == ASL.read_bytes()
        assert "selfheal/adapters/asl_file.py" in names
        assert not any(n.startswith(("statemachine/", "tests/", "functions/")) for n in names)


def _install(wheel: Path, root: Path) -> tuple[Path, Path]:
    """Unpack ``wheel`` the way pip lays it out: the package in a site directory, the data files
    under the prefix."""
    site_dir, prefix = root / "site-packages", root / "prefix"
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            data = "selfheal-0.1.0.data/data/"
            target = prefix / name[len(data):] if name.startswith(data) else site_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
    return site_dir, prefix


def _run_installed(site_dir: Path, prefix: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a Python that sees the unpacked wheel (not the checkout) with ``sys.prefix`` at
    ``prefix``; -S: no .pth files, so the checkout's editable install stays out."""
    boot = (f"import sys; sys.path[:] = [{str(site_dir)!r}, *{site.getsitepackages()!r}] + "
            f"[p for p in sys.path if 'site-packages' not in p]; sys.prefix = {str(prefix)!r}\n"
            f"import selfheal; assert selfheal.__file__.startswith({str(site_dir)!r}), selfheal.__file__\n")
    return subprocess.run([sys.executable, "-I", "-S", "-c", boot + code], cwd=cwd, capture_output=True,
                          text=True, timeout=180, check=False)


def test_installed_wheel_runs_the_demo_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site_dir, prefix = _install(wheel, tmp_path / "install")
    demo_dir = tmp_path / "demo"
    code = ("from selfheal.adapters.sfn_local import DEFAULT_ASL; print('ASL', DEFAULT_ASL)\n"
            f"from selfheal.cli import main; sys.argv = ['selfheal', 'demo', '--dir', {str(demo_dir)!r}]\n"
            "main()\n")
    run = _run_installed(site_dir, prefix, code, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"ASL {prefix / 'share/selfheal/statemachine/fix_error.asl.json'}" in run.stdout
    git = ["git", "-C", str(demo_dir / "orders-service"), "branch", "--list", "selfheal/*"]
    branches = subprocess.run(git, capture_output=True, text=True, timeout=30, check=True).stdout
    assert branches.strip(), run.stdout[-2000:]


def test_installed_wheel_without_its_data_names_every_place_looked(wheel: Path, tmp_path: Path) -> None:
    site_dir, prefix = _install(wheel, tmp_path / "install")
    shutil.rmtree(prefix / "share")
    code = ("from selfheal.adapters.sfn_local import LocalWorkflowEngine\n"
            "from selfheal.errors import ConfigurationError\n"
            "try:\n    LocalWorkflowEngine({}).open()\n"
            "except ConfigurationError as exc:\n    print('ERROR', exc)\n")
    run = _run_installed(site_dir, prefix, code, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ERROR workflow definition fix_error.asl.json not found" in run.stdout
    assert str(site_dir / "statemachine" / "fix_error.asl.json") in run.stdout
    assert str(prefix / "share" / "selfheal" / "statemachine" / "fix_error.asl.json") in run.stdout


def test_the_checkout_copy_wins_and_a_missing_custom_file_is_named(tmp_path: Path) -> None:
    assert asl_file.default_asl() == ASL
    assert asl_file.candidates()[0] == ASL
    with pytest.raises(ConfigurationError, match="custom.asl.json") as info:
        asl_file.read_definition(tmp_path / "custom.asl.json")
    assert "share/selfheal" not in str(info.value).split("(looked in:")[1].split(")")[0]
