"""Warehouse inventory: stock levels updated from supplier shipment notices."""
