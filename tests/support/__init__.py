"""Test fixtures shared by test modules (one module per area)."""
