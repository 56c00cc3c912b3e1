"""Fingerprints: one stable key per defect, whatever the rendering or deployment path.

Algorithm ``v2`` (change the version when the material changes, so stores can tell keys apart;
``selfheal.domain.fingerprint_migration`` re-keys stored ``v1`` records):

* Material per link of the chain, in printed order: the exception class name (the last dotted
  component: runtimes disagree on qualifying it) and the link's crash site, its innermost in-app
  frame, as ``(file name, function name without its qualifying prefix, source line with
  whitespace removed)``. No line numbers: an unrelated edit above the crash must not open a new
  error. No directories: the same file run from ``/var/task``, a release folder, a CI workspace
  or a clone at any place is one file (``selfheal.domain.paths``); the function and the source
  line keep two files of the same name apart.
* Only the crash site, not the whole in-app stack (Bugsnag's rule rather than Sentry's): the
  fix goes where the exception is raised, so one defect reached from two endpoints, through a
  recursion of any depth, or rendered with more or fewer outer frames (loguru's ``backtrace``,
  ``sys.tracebacklimit``, a capped 100,000-frame traceback) stays one error and one PR.
* Chained links contribute (type and crash site): a generic ``except Exception: raise
  AppError from e`` wrapper would otherwise merge every root cause it wraps into one error.
* An exception group adds the sorted set of its sub-exceptions' final class names.
* Only when no link has an in-app frame, the final message contributes, with its parameters
  (numbers, hex, UUIDs, quoted values) replaced by placeholders, together with the innermost
  frame whatever its origin (a library file relative to its import root, ``requests/models.py``),
  so unrelated library errors with a similar message do not merge.

``id`` (the app hash) hashes that material; ``full_hash`` hashes every frame of every link (in-app
or not, recursion collapsed) and every link's normalised message. Both are 32 lowercase hex
characters of SHA-256. ``in_app_frames`` keeps all in-app frames of the final link for context,
with application-relative paths: repository-relative when the repository's files are known
(``FingerprintConfig.repo``), else with the deploy root stripped. Neither the repository nor
``app_roots`` changes an ``id``: they only change the paths people see and ``ignore_paths`` match.

In-app means: not the standard library, not site-/dist-packages, not ``<frozen ...>``, not the
Lambda runtime (``/var/runtime``, ``/var/lang``, ``/opt/python`` layers), not code typed at a
prompt or generated (``<stdin>``, ``<string>``, IPython cells); configured
``in_app_prefixes`` always count as in-app.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from selfheal.domain.paths import RepoIndex, app_path, identity_name, is_pseudo_file, library_path, norm_path
from selfheal.domain.traceback import Frame, Link, Traceback

if TYPE_CHECKING:
    from selfheal.domain.frame_ref import FrameRef

VERSION = "v2"
_MESSAGE_MAX = 300

_NOT_IN_APP_RE = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|\.?venv|virtualenvs?|__pypackages__)/"
    r"|/lib(?:64)?/python\d*(?:\.\d+)?/"
    r"|(?:^|/)python\d+(?:\.\d+)?\.zip/"
    r"|/python\d*_lib/"
    r"|^/var/runtime/|^/var/lang/|^/opt/python/"
    r"|/usr/lib/python|/usr/local/lib/python"
    r"|(?:^|/)lib/python\d"
    r"|^[a-z]:/python\d*/lib/|/python\d*/lib/|^<frozen |^<frozen>",
    re.IGNORECASE,
)
_UUID_RE = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_HEX_RE = re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{12,}\b")
_QUOTED_RE = re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"")
_NUM_RE = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:[.,]\d+)*")
_WS_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class FingerprintConfig:
    """Which paths are application code; how to show them (extra roots, the repository's files)."""

    in_app_prefixes: tuple[str, ...] = ()
    app_roots: tuple[str, ...] = ()  # stripped before the built-in deploy roots (paths.py)
    repo: RepoIndex | None = None
    # path -> (in app, location-free part): a log repeats few paths many times
    _memo: dict[str, tuple[bool, str]] = field(default_factory=dict, compare=False, hash=False, repr=False)


_DEFAULT_CONFIG = FingerprintConfig()
_MEMO_MAX = 100_000


@dataclass(frozen=True)
class Fingerprint:
    """The key of one distinct error (``id``) plus what it was computed from."""

    id: str
    full_hash: str
    exc_type: str
    message: str
    in_app_frames: tuple[FrameRef, ...] = field(default_factory=tuple)
    version: str = VERSION


def is_in_app(path: str, config: FingerprintConfig | None = None) -> bool:
    """True when ``path`` is application code (see the module docstring)."""
    return _path_facts(path, config or _DEFAULT_CONFIG)[0]


def _path_facts(path: str, cfg: FingerprintConfig) -> tuple[bool, str]:
    """(in app, the part of the path that does not depend on where the code was installed)."""
    facts = cfg._memo.get(path)
    if facts is not None:
        return facts
    p = norm_path(path)
    in_app = any(p.startswith(norm_path(prefix)) for prefix in cfg.in_app_prefixes) or (
        _NOT_IN_APP_RE.search(p) is None and not is_pseudo_file(p))
    if in_app:
        free = identity_name(p)
    else:
        lib = library_path(p)
        free = lib if lib is not None else p
    facts = (in_app, free)
    if len(cfg._memo) < _MEMO_MAX:
        cfg._memo[path] = facts
    return facts


def relative_path(path: str, config: FingerprintConfig | None = None) -> str:
    """``path`` relative to the application (see ``selfheal.domain.paths.app_path``)."""
    cfg = config or _DEFAULT_CONFIG
    return app_path(path, (*cfg.app_roots, *cfg.in_app_prefixes), cfg.repo)


def normalise_message(msg: str) -> str:
    """The first line of ``msg`` with its parameters replaced by placeholders."""
    lines = (msg or "").strip().splitlines()
    first = lines[0] if lines else ""
    first = first[:2000]
    first = _UUID_RE.sub("<uuid>", first)
    first = _HEX_RE.sub("<hex>", first)
    first = _QUOTED_RE.sub("<str>", first)
    first = _NUM_RE.sub("<num>", first)
    return _WS_RE.sub(" ", first).strip()[:_MESSAGE_MAX]


def _short_type(name: str | None) -> str:
    return (name or "?").rsplit(".", 1)[-1]


def _frame_key(frame: Frame, config: FingerprintConfig) -> tuple[str, str, str]:
    source = "".join((frame.source or "").split())
    # IPython prints qualified names (`Plot._plot`, `f.<locals>.g`), CPython the bare name.
    function = (frame.function or "").rsplit(".", 1)[-1]
    return _path_facts(frame.file, config)[1], function, source




def _collapse(keys: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Drop repeats of runs of 1-4 frames (recursion), keeping the first occurrence."""
    out: list[tuple[str, str, str]] = []
    for key in keys:
        out.append(key)
        for period in (1, 2, 3, 4):
            if len(out) >= 2 * period and out[-period:] == out[-2 * period : -period]:
                del out[-period:]
                break
    return out


def _link_material(link: Link, config: FingerprintConfig, crash_site: bool) -> tuple[list[str], int]:
    if crash_site:
        site = next((f for f in reversed(link.frames) if _path_facts(f.file, config)[0]), None)
        frames = [site] if site is not None else []
    else:
        frames = link.frames
    keys = _collapse([_frame_key(f, config) for f in frames])
    parts = [f"type:{_short_type(link.type)}"]
    parts.extend(f"frame:{p}|{fn}|{src}" for p, fn, src in keys)
    if link.is_group:
        subs = sorted({_short_type(t.final.type) for t in link.exceptions if t.chain})
        parts.append("group:" + ",".join(subs))
    return parts, len(keys)


def _digest(parts: list[str]) -> str:
    h = hashlib.sha256()
    h.update(VERSION.encode())
    for part in parts:
        h.update(b"\x00")
        h.update(part.encode("utf-8", "replace"))
    return h.hexdigest()[:32]


def fingerprint_ids(tb: Traceback, config: FingerprintConfig | None = None) -> tuple[str, str]:
    """``(id, full_hash)`` without building the record models."""
    cfg = config or _DEFAULT_CONFIG
    full_parts: list[str] = []
    for link in tb.chain:
        all_parts, _ = _link_material(link, cfg, crash_site=False)
        full_parts.extend(all_parts)
        full_parts.append("message:" + normalise_message(link.message))
    return fingerprint_id(tb, cfg), _digest(full_parts)


def fingerprint_id(tb: Traceback, config: FingerprintConfig | None = None) -> str:
    """The ``id`` alone (cheapest: ``selfheal parse`` prints only this)."""
    cfg = config or _DEFAULT_CONFIG
    app_parts: list[str] = []
    in_app_count = 0
    for link in tb.chain:
        parts, count = _link_material(link, cfg, crash_site=True)
        app_parts.extend(parts)
        in_app_count += count
    if in_app_count == 0:
        # No application frame: the crash site (innermost frame, usually in a library) and the
        # message with its parameters stripped. The call path into the library is left out, so
        # one library bug reached two ways stays one error.
        app_parts = [f"type:{_short_type(link.type)}" for link in tb.chain]
        final_frames = tb.final.frames
        if final_frames:
            p, fn, src = _frame_key(final_frames[-1], cfg)
            app_parts.append(f"crash:{p}|{fn}|{src}")
        app_parts.append("message:" + normalise_message(tb.final.message))
    return _digest(app_parts)


def fingerprint(tb: Traceback, config: FingerprintConfig | None = None) -> Fingerprint:
    """Fingerprint a traceback (see the module docstring for the algorithm)."""
    from selfheal.domain.frame_ref import FrameRef  # here: pydantic stays out of `selfheal parse`

    cfg = config or _DEFAULT_CONFIG
    app_id, full = fingerprint_ids(tb, cfg)
    final = tb.final
    refs = tuple(
        FrameRef(file=relative_path(f.file, cfg), function=f.function, line=f.line, source=f.source)
        for f in final.frames
        if is_in_app(f.file, cfg)
    )
    lines = (final.message or "").strip().splitlines()
    return Fingerprint(
        id=app_id,
        full_hash=full,
        exc_type=final.type or "?",
        message=lines[0] if lines else "",
        in_app_frames=refs,
    )
