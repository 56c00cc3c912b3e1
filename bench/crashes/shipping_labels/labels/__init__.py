"""Shipping labels and customs declarations."""
