"""The monthly figures hook, recomputed from raw rows: one grouped query whatever the number of complaints."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from meiguard.complaints import actions, figures
from meiguard.complaints.models import Complaint

from .conftest import take

pytestmark = pytest.mark.django_db


def _at(y: int, m: int, d: int, h: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(y, m, d, h))


START, END = _at(2026, 12, 1), _at(2027, 1, 1)


def _expected(rows: list[Complaint], start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    def within(t):
        return t is not None and start <= t < end

    def due(c, due_at, done):
        return within(due_at) and (c.withdrawn_at is None or c.withdrawn_at > due_at)

    out = dict.fromkeys(figures.FIGURES, 0)
    for c in rows:
        if c.received_at >= end:
            continue
        out["complaints"] += within(c.received_at)
        for name, due_at, done in (
            ("ack", c.ack_due_at, c.acknowledged_at),
            ("resolution", c.resolve_due_at, c.resolved_at),
        ):
            if due(c, due_at, done):
                out[f"{name}_due"] += 1
                out[f"{name}_on_time"] += done is not None and done <= due_at
        still_open = (c.withdrawn_at is None or c.withdrawn_at >= end) and (
            c.closed_at is None or c.closed_at >= end
        )
        breach = any(
            d < end and (x is None or x >= end)
            for d, x in ((c.ack_due_at, c.acknowledged_at), (c.resolve_due_at, c.resolved_at))
        )
        out["breaches_open"] += still_open and breach
        out["escalated"] += within(c.escalated_at)
    return out


def test_figures_match_a_recount_from_raw_rows(clin, clock, django_assert_num_queries):
    rnd = random.Random(14)
    zhao = clin.actor("zhao")
    for _i in range(24):
        clock.set(_at(2026, 11, 20) + dt.timedelta(hours=rnd.randint(0, 24 * 45)))
        c = take(clin, "zhao", multi_department=rnd.random() < 0.3)
        path = rnd.choice(["none", "ack", "resolved", "closed", "escalated", "withdrawn", "late"])
        if path == "none":
            continue
        clock.advance(hours=rnd.choice([2, 30]))
        if path == "withdrawn":
            actions.withdraw(zhao, c.pk, reason="撤回")
            continue
        if path == "escalated":
            actions.escalate(zhao, c.pk, reason="协商未果")
            continue
        actions.acknowledge(zhao, c.pk)
        if path == "ack":
            continue
        clock.advance(days=rnd.choice([1, 3, 12]) if path != "late" else 20)
        actions.resolve_complaint(zhao, c.pk, resolution="处理完毕")
        if path == "closed":
            clock.advance(hours=1)
            actions.close(zhao, c.pk, satisfaction=rnd.randint(1, 5))
    rows = list(Complaint.objects.all())
    yi = clin.clinic.yi.pk
    jia = clin.clinic.jia.pk
    with django_assert_num_queries(1):
        got = figures.monthly_counts([jia, yi], START, END)
    assert got[jia] == _expected(rows, START, END)
    assert got[yi] == dict.fromkeys(figures.FIGURES, 0)
    assert got[jia]["complaints"] > 0 and got[jia]["resolution_due"] > 0
    nov = figures.monthly_counts([jia], _at(2026, 11, 1), START)
    assert nov[jia] == _expected(rows, _at(2026, 11, 1), START)


def test_a_late_resolution_counts_as_due_but_not_on_time(clin, clock):
    zhao = clin.actor("zhao")
    c = take(clin, "zhao")  # Fri 12-04 15:00: ack due 12-05 15:00, resolve due 12-12 00:00
    clock.set(_at(2026, 12, 6))
    actions.acknowledge(zhao, c.pk)
    got = figures.monthly_counts([c.institution_id], START, _at(2026, 12, 10))[c.institution_id]
    assert (got["ack_due"], got["ack_on_time"], got["breaches_open"]) == (1, 0, 0)
    got = figures.monthly_counts([c.institution_id], START, END)[c.institution_id]
    assert (got["resolution_due"], got["resolution_on_time"], got["breaches_open"]) == (1, 0, 1)
    assert figures.monthly_counts([], START, END) == {}
