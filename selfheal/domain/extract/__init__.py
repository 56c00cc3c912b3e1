"""Find Python tracebacks in log text: ``extract_tracebacks`` over any iterable of lines, and
``stream.extract_from_stream`` over a byte stream (the same results, faster: ``selfheal parse``).

The package is layered: ``lines`` recognises one logical line (frame, header, exception line,
separators, log prefixes), ``documents`` decodes JSON records and Lambda invoke-response
documents, ``scanner`` segments a stream of lines into traceback blocks (a small state machine
holding at most one capped block), ``parse`` turns one block into typed ``Link`` objects,
``linewise`` feeds the scanner line by line, ``stream`` feeds it from chunks of bytes (``find``
between tracebacks) and ``runs`` takes runs of plain frame and source lines at once.
"""

from __future__ import annotations

from selfheal.domain.extract.linewise import extract_from_text, extract_tracebacks
from selfheal.domain.extract.scanner import TracebackScanner

__all__ = ["TracebackScanner", "extract_from_text", "extract_tracebacks"]
