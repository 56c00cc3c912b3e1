"""Latency metrics: per-minute rollups for the status dashboard."""
