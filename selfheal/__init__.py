"""selfheal: detect Python tracebacks in logs, group them into errors, and run a fix workflow.

The package is layered as in docs/architecture.md: ``selfheal.domain`` is pure Python (no I/O,
no boto3), ``selfheal.ports`` holds the small interfaces we own, ``selfheal.adapters`` implements
them one technology per module, ``selfheal.services`` holds the use cases, and
``selfheal.compose`` builds the services for a mode (local or AWS).
"""

__version__ = "0.1.0"
