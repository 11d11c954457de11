"""The compliance report on top of the aftercare world: treated cases in November 2026 (report month), a controlled
clock (``clock.set``), and a helper that adds raw rows around them (``Raw``) so the recount covers every branch."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from meiguard.aftercare.tests.conftest import (  # noqa: F401  (fixtures)
    BREAST,
    FILLER,
    TOXIN,
    Clin,
    Clock,
    clin,
    clinic,
    clock,
    liu,
    treat,
)

NOV = dt.date(2026, 11, 1)


def local(*args: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(*args))
