"""User profile service."""
