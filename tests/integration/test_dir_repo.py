"""DirectoryRepository: a SourceRepository over a plain folder, and the context built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.adapters.dir_repo import DirectoryRepository
from selfheal.domain.context import build_context
from selfheal.errors import SourceNotFound
from tests.support.fixgen_repo import BILLING_FILES, billing_record


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "billing-svc"
    for path, text in BILLING_FILES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (root / "src/billing/__pycache__").mkdir()
    (root / "src/billing/__pycache__/handler.cpython-311.pyc").write_bytes(b"\x00\x01")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (tmp_path / "outside.py").write_text("SECRET = 1\n")
    (root / "link.py").symlink_to(tmp_path / "outside.py")
    return root


def test_port_contract(project: Path) -> None:
    repo = DirectoryRepository(project)
    assert repo.default_branch() == "WORKTREE" and repo.resolve() == "WORKTREE"
    files = repo.list_files("WORKTREE")
    assert "src/billing/handler.py" in files and ".github/workflows/ci.yml" in files
    assert not any("__pycache__" in f for f in files) and "link.py" not in files
    assert repo.read_file("src/billing/money.py", "WORKTREE") == BILLING_FILES["src/billing/money.py"]
    assert repo.read_file("logo.png", "WORKTREE") is None  # not text
    assert repo.read_file("missing.py", "WORKTREE") is None
    assert repo.read_file("../outside.py", "WORKTREE") is None  # escapes the project
    with pytest.raises(SourceNotFound, match="only revision WORKTREE"):
        repo.resolve("abc123")


def test_checkout_is_a_copy(project: Path) -> None:
    repo = DirectoryRepository(project)
    with repo.checkout("WORKTREE") as tree:
        assert (tree / "src/billing/handler.py").read_text() == BILLING_FILES["src/billing/handler.py"]
        (tree / "src/billing/handler.py").write_text("broken")
        assert not (tree / "src/billing/__pycache__").exists()
    assert not tree.exists()
    assert (project / "src/billing/handler.py").read_text() == BILLING_FILES["src/billing/handler.py"]


def test_context_from_a_directory(project: Path) -> None:
    ctx = build_context(billing_record(), DirectoryRepository(project))
    assert ctx.revision == "WORKTREE"
    assert ctx.offered_files == ["src/billing/handler.py", "src/billing/invoices.py"]
    assert ctx.files["src/billing/invoices.py"] == BILLING_FILES["src/billing/invoices.py"]


def test_missing_directory() -> None:
    with pytest.raises(SourceNotFound):
        DirectoryRepository("/nonexistent/selfheal-project")
