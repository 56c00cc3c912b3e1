"""Org chart: reporting lines from the HR export."""
