"""Where the fix workflow's ASL definition is: ``statemachine/fix_error.asl.json`` in a checkout,
or the same file installed as data under ``<prefix>/share/selfheal/statemachine/`` by a wheel.

The checkout's file is the single source of truth (the SAM template deploys it too); pyproject's
``[tool.setuptools.data-files]`` ships that file with ``pip install .`` and wheels, where the
package no longer sits next to ``statemachine/``.
"""

from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

from selfheal.errors import ConfigurationError

ASL_NAME = "fix_error.asl.json"
CHECKOUT_DIR = Path(__file__).resolve().parents[2] / "statemachine"


def installed_dirs() -> list[Path]:
    """Data directories an installed wheel may have put the ASL in (venv/system, then --user)."""
    dirs = [Path(sys.prefix), Path(sysconfig.get_path("data"))]
    user_base = site.getuserbase()
    if user_base:
        dirs.append(Path(user_base))
    unique = list(dict.fromkeys(dirs))
    return [d / "share" / "selfheal" / "statemachine" for d in unique]


def candidates(name: str = ASL_NAME) -> list[Path]:
    """Every place looked at, in order: the checkout first, then the installed data."""
    return [CHECKOUT_DIR / name, *(d / name for d in installed_dirs())]


def default_asl(name: str = ASL_NAME) -> Path:
    """The first existing candidate; the checkout path if none exists (``read_definition`` then
    raises a ``ConfigurationError`` naming every place looked at)."""
    return next((p for p in candidates(name) if p.is_file()), CHECKOUT_DIR / name)


def read_definition(path: Path) -> str:
    """The ASL text at ``path``; a missing file is a ``ConfigurationError`` that says where the
    default definition was looked for."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        places = candidates(path.name)
        looked = ", ".join(str(p) for p in (places if path in places else [path]))
        raise ConfigurationError(
            f"workflow definition {path.name} not found (looked in: {looked}); run from a selfheal "
            "checkout or reinstall the package (pip install selfheal ships it under "
            "share/selfheal/statemachine)") from None
