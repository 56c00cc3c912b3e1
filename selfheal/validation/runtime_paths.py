"""Where the test process finds its interpreter and packages (the Lambda layer among them).

On Lambda the runtime's bootstrap puts the layer (``/opt/python``, its ``lib/pythonX.Y/
site-packages``) on ``sys.path`` itself; ``PYTHONPATH`` does not name it. A fresh interpreter
started for the tests would then not find pytest. ``runtime_import_paths`` finds such entries so
the sandbox can hand them to the child (as ``PYTHONPATH``) and keep them readable.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from selfheal.envscrub import scrub_env

_lock = threading.Lock()
_found: list[str] | None = None
_SITE_NAMES = ("site-packages", "dist-packages")
LAMBDA_LAYER_ROOT = "/opt/python"


def _default_path() -> set[str]:
    """``sys.path`` of a fresh interpreter (ours, scrubbed environment), resolved."""
    try:
        proc = subprocess.run([sys.executable, "-c", "import sys, json; print(json.dumps(sys.path))"],
                              capture_output=True, timeout=30, env=scrub_env(), check=True)
        return {str(Path(p).resolve()) for p in json.loads(proc.stdout) if p}
    except (OSError, subprocess.SubprocessError, ValueError):
        return set()


def runtime_import_paths(*, refresh: bool = False) -> list[str]:
    """Entries of our ``sys.path`` that hold packages a fresh interpreter would not see: site
    directories and layer roots added by a bootstrap, and any directory holding pytest. Source
    roots that pytest or an editable install put on the path are left out: a project's ``tests``
    package must not collide with ours. Computed once per process."""
    global _found
    with _lock:
        if _found is None or refresh:
            default = _default_path()
            found: list[str] = []
            for entry in sys.path:
                if not entry:
                    continue
                real = Path(entry).resolve()
                if str(real) in default or not real.is_dir():
                    continue
                if real.name in _SITE_NAMES or str(real).startswith(LAMBDA_LAYER_ROOT) \
                        or (real / "pytest").is_dir():
                    found.append(str(real))
            _found = list(dict.fromkeys(found))
        return list(_found)


def runtime_paths(*extra: Path) -> list[Path]:
    """What a test command needs to read: the interpreter and its prefixes, the layers, ``extra``."""
    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent,
             Path(sys.executable).resolve().parent, *extra, *map(Path, runtime_import_paths())]
    return list(dict.fromkeys(p.resolve() for p in paths if p.exists()))
