"""Audit trail of admin actions."""
