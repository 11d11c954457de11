"""Quarters as review periods: ``2026-Q4`` ↔ (2026-10-01, 2026-12-31). Pure functions, no ORM."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

PERIOD_RE = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True, slots=True)
class Quarter:
    year: int
    quarter: int

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.quarter}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> dt.date:
        return self.next().start - dt.timedelta(days=1)

    @property
    def months(self) -> tuple[int, int, int]:
        first = 3 * self.quarter - 2
        return (first, first + 1, first + 2)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.quarter == 4 else Quarter(self.year, self.quarter + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.quarter == 1 else Quarter(self.year, self.quarter - 1)

    def __str__(self) -> str:
        return self.label


def parse(text: str) -> Quarter | None:
    """``"2026-Q4"`` → Quarter(2026, 4); anything else → None."""
    match = PERIOD_RE.match((text or "").strip().upper())
    if not match:
        return None
    year = int(match.group(1))
    if not 2000 <= year <= 2100:
        return None
    return Quarter(year, int(match.group(2)))


def quarter_of(on: dt.date) -> Quarter:
    return Quarter(on.year, (on.month - 1) // 3 + 1)
