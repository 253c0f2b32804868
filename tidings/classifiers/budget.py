"""Token prices and the daily spending cap of the LLM."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

from pydantic import BaseModel, Field


class Pricing(BaseModel):
    """US dollars per million tokens; defaults match small hosted models, override per model."""

    input_usd_per_mtok: float = Field(default=0.15, ge=0)
    output_usd_per_mtok: float = Field(default=0.60, ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The price of one call."""
        return (
            prompt_tokens * self.input_usd_per_mtok + completion_tokens * self.output_usd_per_mtok
        ) / 1_000_000


class DailyBudget:
    """Spending per UTC day, in memory and thread-safe. The worker will persist it with the agent
    graph; evals use it as is."""

    def __init__(self, limit_usd: float) -> None:
        self.limit_usd = limit_usd
        self._spent: dict[date, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _today() -> date:
        return datetime.now(UTC).date()

    def spent_today(self) -> float:
        """Dollars spent so far today."""
        with self._lock:
            return self._spent.get(self._today(), 0.0)

    def allows_call(self) -> bool:
        """False once today's spending reached the limit."""
        return self.spent_today() < self.limit_usd

    def record(self, cost_usd: float) -> None:
        """Add a call's cost to today."""
        with self._lock:
            today = self._today()
            self._spent[today] = self._spent.get(today, 0.0) + cost_usd
