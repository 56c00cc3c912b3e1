"""Outgoing webhooks: deliver events to subscriber URLs, with retries."""
