"""Fixers that need no model. ``RulesFixer`` is the offline ``rules`` FixModel."""

from selfheal.fixers.rules import RulesFixer

__all__ = ["RulesFixer"]
