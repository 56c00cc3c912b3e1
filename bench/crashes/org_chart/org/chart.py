"""Reporting lines: who reports to whom, as exported nightly from the HR system."""

from __future__ import annotations


def chain_of_command(managers: dict[str, str | None], person: str) -> list[str]:
    """``person``'s managers, nearest first, up to the top of the company."""
    boss = managers.get(person)
    if boss is None:
        return []
    return [boss, *chain_of_command(managers, boss)]


def approvers(managers: dict[str, str | None], person: str, levels: int = 2) -> list[str]:
    """Who approves ``person``'s expenses: their first ``levels`` managers."""
    return chain_of_command(managers, person)[:levels]
