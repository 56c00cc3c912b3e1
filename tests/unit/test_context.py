"""Fault context: frame -> file mapping, ast cuts, budget drop order, redaction."""

from __future__ import annotations

import pytest

from selfheal.domain.context import build_context, estimate_tokens, map_frame_path
from selfheal.domain.records import ErrorRecord, FrameRef
from selfheal.errors import SourceNotFound
from selfheal.settings import Settings
from tests.support.fixgen_repo import (
    BILLING_FILES,
    INVOICES,
    L_VAT,
    MemoryRepository,
    billing_record,
    line_of,
)

FILES = ["src/app/handler.py", "src/app/models/user.py", "lib/app/models/user.py", "tests/handler.py",
         "worker/handler.py", "app/util.py"]


@pytest.mark.parametrize("frame, expected", [
    ("/var/task/app/models/user.py", None),  # app/models/user.py matches two files equally
    ("/srv/x/src/app/models/user.py", "src/app/models/user.py"),
    ("/home/ci/build/lib/app/models/user.py", "lib/app/models/user.py"),
    ("/var/task/app/handler.py", "src/app/handler.py"),
    ("C:\\svc\\app\\util.py", "app/util.py"),
])
def test_longest_suffix_wins_and_ties_are_reported(frame: str, expected: str | None) -> None:
    m = map_frame_path(frame, FILES)
    assert m.path == expected
    if expected is None:
        assert m.reason and "ambiguous" in m.reason


def test_basename_alone_is_not_a_match() -> None:
    # handler.py exists in three folders; the frame's folder matches none of them.
    m = map_frame_path("/opt/service/payments/handler.py", FILES)
    assert m.path is None
    assert "by path suffix" in (m.reason or "")
    # With the app root stripped, a bare file name matches when it names a unique file.
    assert map_frame_path("/var/task/util.py", FILES, ["/var/task/"]).path == "app/util.py"


def test_context_has_enclosing_functions_imports_and_definitions() -> None:
    ctx = build_context(billing_record(), MemoryRepository(BILLING_FILES))
    assert ctx.offered_files == ["src/billing/handler.py", "src/billing/invoices.py"]
    assert set(ctx.files) == set(ctx.offered_files)
    assert ctx.revision == "c0ffee1234" and ctx.occurrences == 7
    text = {p: "".join(s.text for s in ctx.sections if s.path == p) for p in ctx.offered_files}
    inv = text["src/billing/invoices.py"]
    assert "def vat_for(invoice: Invoice) -> Decimal:" in inv  # enclosing function of the raise
    assert "def render_invoice(invoice: Invoice) -> dict:" in inv  # outer frame's function
    assert 'VAT_RATES = {"GB"' in inv  # definition of a name used on the failing line
    assert "from billing.money import format_amount" in inv  # imports
    assert "class InvoiceBook" not in inv  # unrelated code is cut
    handler = text["src/billing/handler.py"]
    assert "def get_invoice(" in handler and "def _response(" in handler
    assert "def list_invoices" not in handler
    # Sections carry exact repository text at the right lines.
    for s in ctx.sections:
        lines = BILLING_FILES[s.path].splitlines()[s.start_line - 1:s.end_line]
        assert s.text == "\n".join(lines) + "\n"


def test_definitions_from_imported_repo_modules_are_included() -> None:
    files = dict(BILLING_FILES)
    files["src/billing/invoices.py"] = INVOICES.replace(
        "return (invoice.net * rate).quantize",
        "return format_amount(invoice.net * rate) and (invoice.net * rate).quantize")
    rec = billing_record()
    rec.frames[-1] = FrameRef(file="billing/invoices.py", function="vat_for",
                              line=line_of(files["src/billing/invoices.py"], "return format_amount(invoice"))
    ctx = build_context(rec, MemoryRepository(files))
    money = [s for s in ctx.sections if s.path == "src/billing/money.py"]
    assert money and "def format_amount(value: Decimal) -> str:" in money[0].text
    assert "src/billing/money.py" not in ctx.offered_files  # context only, not editable


def test_unmapped_and_ambiguous_frames_are_reported_not_guessed() -> None:
    files = dict(BILLING_FILES)
    files["src/other/invoices.py"] = INVOICES
    rec = billing_record()
    rec.frames[1] = rec.frames[1].model_copy(update={"file": "invoices.py"})
    rec.frames.append(FrameRef(file="/var/task/vendor/thing.py", function="go", line=3))
    ctx = build_context(rec, MemoryRepository(files))
    assert [f.file for f in ctx.unmapped_frames] == ["invoices.py", "/var/task/vendor/thing.py"]
    assert any("ambiguous" in n for n in ctx.notes)
    assert ctx.offered_files == ["src/billing/handler.py", "src/billing/invoices.py"]


def test_no_mapped_frame_is_source_not_found() -> None:
    rec = ErrorRecord(fingerprint="x", exc_type="ValueError", frames=[FrameRef(file="nowhere.py", line=1)])
    with pytest.raises(SourceNotFound, match="nowhere.py"):
        build_context(rec, MemoryRepository(BILLING_FILES))


def test_budget_drops_in_documented_order() -> None:
    repo = MemoryRepository(BILLING_FILES)
    # Lower the budget until something must go: the first casualties are definitions.
    for budget in range(3000, 0, -10):
        tight = build_context(billing_record(), repo, settings=Settings(prompt_token_budget=budget))
        dropped = [n for n in tight.notes if n.startswith(("dropped", "shrank"))]
        if dropped:
            break
    assert dropped and all(" definition " in n for n in dropped), dropped
    # The smallest budget: everything droppable goes, the failing-line windows stay.
    tiny = build_context(billing_record(), repo, settings=Settings(prompt_token_budget=1))
    kinds = [n.split()[1] for n in tiny.notes if n.startswith(("dropped", "shrank"))]
    order = {"definition": 0, "class": 1, "imports": 2, "function": 3}
    assert kinds == sorted(kinds, key=lambda k: order[k])
    inv = "".join(s.text for s in tiny.sections if s.path == "src/billing/invoices.py")
    assert "rate = VAT_RATES[invoice.country]" in inv
    assert "def vat_for(invoice: Invoice) -> Decimal:" in inv  # shrunk to signature + window
    assert "class Invoice" not in inv
    assert INVOICES.splitlines()[L_VAT - 1] in inv


def test_secrets_in_trace_message_and_source_are_redacted() -> None:
    files = dict(BILLING_FILES)
    files["src/billing/invoices.py"] = INVOICES.replace(
        'VAT_RATES = {', 'STRIPE_KEY = "sk_live_51HqLyjWDarjtT1zdp7dcXt9aBc"\nVAT_RATES = {')
    rec = billing_record(message="'US' for ops@example.com")
    rec.frames[2].line = (rec.frames[2].line or 0) + 1
    rec.frames[1].line = (rec.frames[1].line or 0) + 1
    ctx = build_context(rec, MemoryRepository(files))
    blob = ctx.message + ctx.trace + "".join(s.text for s in ctx.sections) + "".join(ctx.files.values())
    assert "ops@example.com" not in blob and "sk_live_51HqLyjWDarjtT1zdp7dcXt9aBc" not in blob
    assert "[REDACTED:email]" in ctx.message
    assert any(n.startswith("redacted ") for n in ctx.notes)


def test_method_frames_get_class_header_and_self_methods() -> None:
    src = '''import os


class Reports:
    """Builds reports."""

    def __init__(self, root):
        self.root = root

    def _path(self, name):
        return os.path.join(self.root, name)

    def load(self, name):
        with open(self._path(name)) as fh:
            return fh.read()
'''
    frame = FrameRef(file="/app/reports.py", function="load", line=line_of(src, "with open("))
    rec = ErrorRecord(fingerprint="r", exc_type="FileNotFoundError", frames=[frame])
    ctx = build_context(rec, MemoryRepository({"reports.py": src}))
    text = "".join(s.text for s in ctx.sections)
    assert "class Reports:" in text and "def _path(self, name):" in text and "def load(self, name):" in text
    assert "import os" in text


# The fixed prompt grew by the request for a regression test and its pattern (issue #14): the
# smallest budgets moved up by what that costs (about 170 tokens).
@pytest.mark.parametrize("budget", [1560, 1580, 1610, 1660, 6000])
def test_rendered_prompt_respects_the_budget(budget: int) -> None:
    from selfheal.domain.prompt import build_prompt, prompt_tokens

    settings = Settings(prompt_token_budget=budget)
    ctx = build_context(billing_record(), MemoryRepository(BILLING_FILES), settings=settings)
    assert not any("over its budget" in n or "below what" in n for n in ctx.notes)
    assert prompt_tokens(build_prompt(ctx, 1, None, settings)) <= budget


def test_a_budget_below_the_fixed_prompt_is_reported() -> None:
    settings = Settings(prompt_token_budget=900)
    ctx = build_context(billing_record(), MemoryRepository(BILLING_FILES), settings=settings)
    assert any("below what the trace and the fixed prompt need" in n for n in ctx.notes)


def test_estimate_counts_indentation_once_per_line() -> None:
    flat = "x = compute(a, b)\n"
    nested = "                " + flat
    assert estimate_tokens(nested) == estimate_tokens(flat) + 1
    assert estimate_tokens("") == 0


def test_definitions_through_relative_and_module_imports() -> None:
    handler = '''from . import money as m
from .rates import rate_for


def total(order):
    return m.format_amount(order["net"] * rate_for(order["country"]))
'''
    files = {
        "svc/__init__.py": "",
        "svc/handler.py": handler,
        "svc/money.py": "def format_amount(v):\n    return f'{v:.2f}'\n",
        "svc/rates.py": "RATES = {'GB': 0.2}\n\n\ndef rate_for(country):\n    return RATES[country]\n",
    }
    frame = FrameRef(file="/srv/app/svc/handler.py", function="total", line=line_of(handler, "return m."))
    rec = ErrorRecord(fingerprint="m", exc_type="KeyError", frames=[frame])
    ctx = build_context(rec, MemoryRepository(files))
    by_path = {s.path: s.text for s in ctx.sections}
    assert "def format_amount(v):" in by_path["svc/money.py"]
    assert "def rate_for(country):" in by_path["svc/rates.py"]
    assert ctx.offered_files == ["svc/handler.py"]
