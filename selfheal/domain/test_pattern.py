"""The repository's own test style: one existing test file to show as the pattern, where new
tests go, whether they are ``unittest`` classes, and how they import the package.

Used by the prompt (models are asked for a regression test written like the pattern) and by the
replay's regression test (``selfheal.domain.replay``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from selfheal.domain.code_slices import path_parts
from selfheal.domain.edit_format import is_test_path

PATTERN_MAX_CHARS = 3000
_IMPORT_RE = re.compile(r"^(?:from\s+([\w.]+)\s+import\b.*|import\s+([\w.]+).*)$", re.MULTILINE)


@dataclass(frozen=True)
class TestPattern:
    """One existing test module and what it teaches about the repository's tests."""

    __test__ = False  # not a pytest class, despite its name

    path: str
    text: str
    directory: str
    unittest_style: bool
    imports: list[str] = field(default_factory=list)  # its import lines of the repository's packages

    def new_test_path(self, short_id: str) -> str:
        name = f"test_selfheal_{short_id}.py"
        return f"{self.directory}/{name}" if self.directory else name


def _is_test_module(path: str) -> bool:
    name = path_parts(path)[-1] if path_parts(path) else ""
    return (path.endswith(".py") and is_test_path(path) and name != "conftest.py"
            and (name.startswith("test_") or name.endswith("_test.py")))


def find_test_pattern(repo_files: Sequence[str], read: Callable[[str], str | None],
                      packages: Sequence[str]) -> TestPattern | None:
    """The test file that best shows how ``packages`` (top-level module names) are tested: one
    that imports them, else the smallest test module; None when the repository has no tests."""
    candidates = sorted((f for f in repo_files if _is_test_module(f)), key=lambda f: (len(f), f))[:40]
    best: tuple[int, int, str, str] | None = None
    for path in candidates:
        text = read(path)
        if text is None:
            continue
        tops = {(m.group(1) or m.group(2)).split(".")[0] for m in _IMPORT_RE.finditer(text)}
        score = (0 if tops & set(packages) else 1, len(text))
        if best is None or score < best[:2]:
            best = (*score, path, text)
    if best is None:
        return None
    _, _, path, text = best
    unittest_style = "unittest.TestCase" in text or re.search(r"\(\s*TestCase\s*\)", text) is not None
    unittest_style = unittest_style and re.search(r"^def test_", text, re.MULTILINE) is None
    imports = [m.group(0).strip() for m in _IMPORT_RE.finditer(text)
               if (m.group(1) or m.group(2)).split(".")[0] in set(packages)]
    shown = text if len(text) <= PATTERN_MAX_CHARS else text[:PATTERN_MAX_CHARS] + "\n# ... [cut]\n"
    parts = path_parts(path)
    return TestPattern(path=path, text=shown, directory="/".join(parts[:-1]), unittest_style=unittest_style,
                       imports=imports)
