"""Find Python tracebacks in log text: ``extract_tracebacks`` over any iterable of lines.

The package is layered: ``lines`` recognises one logical line (frame, header, exception line,
separators, log prefixes), ``documents`` decodes JSON records and Lambda invoke-response
documents, ``scanner`` segments a stream of lines into traceback blocks (a small state machine
holding at most one capped block), and ``parse`` turns one block into typed ``Link`` objects.
"""

from __future__ import annotations

from selfheal.domain.extract.linewise import extract_from_text, extract_tracebacks
from selfheal.domain.extract.scanner import TracebackScanner

__all__ = ["TracebackScanner", "extract_from_text", "extract_tracebacks"]
