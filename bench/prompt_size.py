"""Prompt size: our fault-context prompt vs. the whole-files-of-every-frame baseline, side by side.

The "repositories" are real code with real crashes:

* a stdlib slice (json, tomllib, configparser, email, ipaddress, string, logging, argparse,
  statistics, zipfile, shlex, _strptime, fractions, csv) copied into a plain directory, and one
  crash per case raised in-process, so each trace and its frames are what Python printed;
* the bundled ``orders`` sample service, replaying its recorded traffic (small files: reported
  separately, since whole files of 20-100 lines leave little to cut).

For every case both prompts are rendered by the same template with the same trace; the baseline
puts the whole text of every frame's file in the code sections (what the AWS sample does), ours
uses ``build_context``. Tokens are estimated the same way for both (``estimate_tokens``), so the
ratio is measured side by side. The target: ratio <= 0.3 over the realistic set while every in-app
frame's enclosing function is present in full. Exit status 1 when that fails.

    .venv/bin/python bench/prompt_size.py [--budget N]
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib
import json
import shutil
import statistics
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selfheal.adapters.dir_repo import DirectoryRepository  # noqa: E402
from selfheal.domain.context import build_context, estimate_tokens  # noqa: E402
from selfheal.domain.fixing import CodeSection, FixContext  # noqa: E402
from selfheal.domain.prompt import build_prompt, prompt_tokens  # noqa: E402
from selfheal.domain.records import ErrorRecord, FrameRef  # noqa: E402
from selfheal.settings import Settings  # noqa: E402

TARGET = 0.3
STDLIB_MODULES = ["json", "tomllib", "configparser", "email", "ipaddress", "string", "logging", "argparse",
                  "statistics", "zipfile", "shlex", "_strptime", "fractions", "csv", "textwrap", "shutil"]


def _crash_cases() -> list[tuple[str, Callable[[], object]]]:
    import configparser
    import csv
    import email.utils
    import fractions
    import io
    import ipaddress
    import logging
    import shlex
    import statistics
    import string
    import tomllib
    import zipfile
    from datetime import datetime

    def config_interpolation() -> object:
        cp = configparser.ConfigParser()
        cp.read_string("[db]\nurl = postgresql://%(user)s@db/app\n")
        return cp.get("db", "url")

    def log_format() -> object:
        rec = logging.LogRecord("api", logging.INFO, "handler.py", 10, "order %s", ("O-1",), None)
        return logging.Formatter("%(asctime)s %(request_id)s %(message)s").format(rec)

    def argparse_error() -> object:
        p = argparse.ArgumentParser(prog="replay", exit_on_error=False)
        p.add_argument("--since", type=int)
        return p.parse_args(["--since", "yesterday"])

    return [
        ("json.loads trailing comma", lambda: json.loads('{"order_id": "O-1", "lines": [1, 2],}')),
        ("tomllib unclosed array",
         lambda: tomllib.loads('[tool.selfheal]\nmodel = "rules"\nignore = [1, 2\n')),
        ("configparser missing option", config_interpolation),
        ("email date header", lambda: email.utils.parsedate_to_datetime("Mon, 32 Foo 2024 25:61:00")),
        ("ipaddress host bits", lambda: ipaddress.ip_network("10.0.0.1/24")),
        ("string.Template missing key", lambda: string.Template("$who ordered $what").substitute(who="ana")),
        ("logging formatter field", log_format),
        ("argparse bad int", argparse_error),
        ("statistics empty mean", lambda: statistics.mean([])),
        ("zipfile not a zip", lambda: zipfile.ZipFile(io.BytesIO(b"PK\x03\x04 not really a zip file"))),
        ("shlex unclosed quote", lambda: shlex.split('deploy --message "fix totals')),
        ("strptime bad date", lambda: datetime.strptime("2024-13-45", "%Y-%m-%d")),
        ("fractions zero denominator", lambda: fractions.Fraction(3, 0)),
        ("csv unknown field",
         lambda: csv.DictWriter(io.StringIO(), ["sku", "qty"]).writerow({"sku": 1, "q": 2})),
    ]


@dataclass
class Case:
    name: str
    record: ErrorRecord
    repo: DirectoryRepository


def _record(name: str, exc: BaseException, keep: Callable[[str], bool]) -> ErrorRecord:
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [FrameRef(file=f.filename, function=f.name, line=f.lineno, source=f.line) for f in tb
              if keep(f.filename)]
    trace = "".join(traceback.format_exception(exc))
    return ErrorRecord(fingerprint=name.replace(" ", "-"), exc_type=type(exc).__name__,
                       message=str(exc)[:1000], frames=frames, sample_trace=trace, count=3)


@contextmanager
def stdlib_cases() -> Iterator[list[Case]]:
    """The stdlib slice as a plain-directory repository, with one real crash per case."""
    with tempfile.TemporaryDirectory(prefix="selfheal-bench-") as tmp:
        root = Path(tmp) / "stdlib-slice"
        bases: list[Path] = []
        for name in STDLIB_MODULES:
            mod = importlib.import_module(name)
            src = Path(mod.__file__ or "")
            if src.name == "__init__.py":
                shutil.copytree(src.parent, root / name,
                                ignore=shutil.ignore_patterns("__pycache__", "test*"))
                bases.append(src.parent.parent)
            else:
                root.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, root / src.name)
                bases.append(src.parent)
        lib = bases[0]
        repo = DirectoryRepository(root)
        repo_files = set(repo.list_files("WORKTREE"))

        def in_app(filename: str) -> bool:
            path = Path(filename)
            return path.is_relative_to(lib) and path.relative_to(lib).as_posix() in repo_files

        cases = []
        for name, crash in _crash_cases():
            try:
                crash()
            except Exception as exc:  # the point: a real traceback
                cases.append(Case(name, _record(name, exc, in_app), repo))
            else:
                raise SystemExit(f"case {name!r} did not crash")
        yield cases


@contextmanager
def orders_cases(limit: int = 6) -> Iterator[list[Case]]:
    """The bundled orders sample replaying its recorded traffic; one case per distinct crash site."""
    sample = ROOT / "selfheal" / "samples" / "orders"
    if not (sample / "orders" / "handler.py").is_file():
        yield []
        return
    sys.path.insert(0, str(sample))
    try:
        handler = importlib.import_module("orders.handler")
        cases: list[Case] = []
        seen: set[tuple[str, int | None]] = set()
        for line in (sample / "requests.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                handler.route(copy.deepcopy(json.loads(line)))
            except Exception as exc:
                rec = _record(f"orders {type(exc).__name__}", exc, lambda f: Path(f).is_relative_to(sample))
                site = (rec.frames[-1].file, rec.frames[-1].line) if rec.frames else ("", None)
                if rec.frames and site not in seen and len(cases) < limit:
                    seen.add(site)
                    cases.append(Case(f"orders {type(exc).__name__} {Path(site[0]).name}:{site[1]}", rec,
                                      DirectoryRepository(sample)))
        yield cases
    finally:
        sys.path.remove(str(sample))
        for mod in [m for m in sys.modules if m == "orders" or m.startswith("orders.")]:
            del sys.modules[mod]


def baseline_context(ctx: FixContext, repo: DirectoryRepository) -> FixContext:
    """The same context with every frame's whole file as its code (the AWS sample's approach)."""
    sections = []
    for path in ctx.offered_files:
        text = repo.read_file(path, ctx.revision) or ""
        sections.append(CodeSection(path=path, start_line=1, end_line=len(text.splitlines()), text=text,
                                    kind="module"))
    return ctx.model_copy(update={"sections": sections})


def functions_present(ctx: FixContext, repo: DirectoryRepository, settings: Settings) -> tuple[int, int]:
    """(frames whose enclosing function is wholly in a section, frames checked)."""
    from selfheal.domain.context import map_frame_path

    files = repo.list_files(ctx.revision)
    ok = total = 0
    for frame in ctx.frames:
        path = map_frame_path(frame.file, [f for f in files if f.endswith(".py")], settings.app_roots).path
        if path is None or frame.line is None:
            continue
        tree = ast.parse(repo.read_file(path, ctx.revision) or "")
        span = None
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                end = node.end_lineno or node.lineno
                if start <= frame.line <= end and (span is None or end - start < span[1] - span[0]):
                    span = (start, end)
        span = span or (frame.line, frame.line)  # module-level frame: its line must be shown
        total += 1
        ok += any(s.path == path and s.start_line <= span[0] and s.end_line >= span[1] for s in ctx.sections)
    return ok, total


def measure(cases: list[Case], settings: Settings, title: str) -> tuple[int, int, bool]:
    print(f"\n{title}")
    head = (f"{'case':<44} {'frames':>6} {'files':>5} {'baseline':>9} {'ours':>6} {'ratio':>6} "
            f"{'code':>5}  functions")
    print(head)
    print("-" * len(head))
    sum_base = sum_ours = 0
    all_present = True
    ratios: list[float] = []
    for case in cases:
        ctx = build_context(case.record, case.repo, settings=settings)
        ours = prompt_tokens(build_prompt(ctx, 1, None, settings))
        base = prompt_tokens(build_prompt(baseline_context(ctx, case.repo), 1, None, settings))
        ok, total = functions_present(ctx, case.repo, settings)
        code_ours = sum(estimate_tokens(s.text) for s in ctx.sections)
        code_base = sum(estimate_tokens(s.text) for s in baseline_context(ctx, case.repo).sections)
        all_present &= ok == total
        sum_base, sum_ours = sum_base + base, sum_ours + ours
        print(f"{case.name[:44]:<44} {len(case.record.frames):>6} {len(ctx.offered_files):>5} {base:>9} "
              f"{ours:>6} {ours / base:>6.2f} {code_ours / code_base:>5.2f}  {ok}/{total}"
              f"{'' if ok == total else '  MISSING'}"
              f"{'' if ours <= settings.prompt_token_budget else '  OVER BUDGET'}")
        ratios.append(ours / base)
    if cases:
        print(f"{'total':<44} {'':>6} {'':>5} {sum_base:>9} {sum_ours:>6} {sum_ours / sum_base:>6.2f}")
        print(f"per case: median ratio {statistics.median(ratios):.2f}, "
              f"{sum(r <= TARGET for r in ratios)}/{len(ratios)} cases at or under {TARGET}")
    return sum_base, sum_ours, all_present


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--budget", type=int, default=Settings().prompt_token_budget,
                        help="prompt token budget (settings.prompt_token_budget)")
    args = parser.parse_args(argv)
    settings = Settings(prompt_token_budget=args.budget)
    print(f"prompt token budget {settings.prompt_token_budget}; both columns estimated by "
          "selfheal.domain.context.estimate_tokens (characters / 3.5, a line's indentation = 1 token)")
    with stdlib_cases() as cases:
        base, ours, present = measure(cases, settings, "Realistic modules (stdlib slice, real crashes)")
    with orders_cases() as small:
        measure(small, settings, "Small service (bundled orders sample; informational, whole files are tiny)")
    ratio = ours / base
    ok = ratio <= TARGET and present
    print("\n'ratio' is whole prompts (ours / baseline); 'code' compares the code sections alone.")
    print(f"{'PASS' if ok else 'FAIL'}: ratio {ratio:.3f} (target <= {TARGET}) over {len(cases)} realistic "
          f"cases; every in-app frame's enclosing function present: {'yes' if present else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
