"""The handlers' services (see ``selfheal.compose.runtime``): installed locally, built from the
environment in Lambda."""

from __future__ import annotations

from selfheal.compose.runtime import install, services

__all__ = ["install", "services"]
