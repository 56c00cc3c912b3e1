"""Stock levels per SKU (in memory here; a database table in production)."""

from __future__ import annotations


class StockBook:
    def __init__(self, levels: dict[str, int] | None = None) -> None:
        self._levels = dict(levels or {})

    def receive(self, sku: str, quantity: int) -> int:
        if quantity <= 0:
            raise ValueError(f"received quantity must be positive, got {quantity}")
        self._levels[sku] = self._levels.get(sku, 0) + quantity
        return self._levels[sku]

    def level(self, sku: str) -> int:
        return self._levels.get(sku, 0)
