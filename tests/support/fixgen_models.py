"""Scripted ``FixModel``s and a usage ledger for fix-generation tests."""

from __future__ import annotations

from datetime import datetime

from selfheal.domain.fixing import ModelReply, Prompt


class ScriptedModel:
    """A ``FixModel`` that answers with the given texts in order and keeps the prompts it saw."""

    def __init__(self, replies: list[str], model_id: str = "claude-sonnet-4-5",
                 tokens_out: int = 200) -> None:
        self.replies = list(replies)
        self._model_id = model_id
        self.tokens_out = tokens_out
        self.prompts: list[Prompt] = []

    @property
    def model_id(self) -> str:
        return self._model_id

    def complete(self, prompt: Prompt) -> ModelReply:
        self.prompts.append(prompt)
        text = self.replies.pop(0)
        return ModelReply(text=text, model_id=self._model_id, tokens_in=len(prompt.user) // 4,
                          tokens_out=self.tokens_out, stop_reason="end_turn")


class UsageLedger:
    """``add_usage`` / ``usage_since`` of an ``ErrorStore``, in memory."""

    def __init__(self, already_today: float = 0.0) -> None:
        self.rows: list[tuple[str, int, int, int, float]] = []
        self.already_today = already_today

    def add_usage(self, fingerprint: str, attempt: int, tokens_in: int, tokens_out: int,
                  cost_usd: float) -> None:
        self.rows.append((fingerprint, attempt, tokens_in, tokens_out, cost_usd))

    def usage_since(self, since: datetime) -> float:
        return self.already_today + sum(r[4] for r in self.rows)
