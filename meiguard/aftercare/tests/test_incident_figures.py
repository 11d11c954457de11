"""The monthly figures hook: ``monthly_counts`` recomputed from raw rows (two institutions, rows on both sides
of the month's edges) matches, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from meiguard.aftercare.incident_figures import KEYS, monthly_counts
from meiguard.aftercare.models import Incident

pytestmark = pytest.mark.django_db

START = timezone.make_aware(dt.datetime(2026, 11, 1))
END = timezone.make_aware(dt.datetime(2026, 12, 1))
D = dt.timedelta


def _rows(clin) -> None:
    jia, yi = clin.clinic.jia, clin.clinic.yi
    n = itertools.count(1)

    def add(inst, discovered, grade="III", within=None, submitted=None):
        Incident.objects.create(
            institution=inst,
            kind="quality_event" if within else "hazard",
            grade=grade,
            severity="general" if within else "none",
            title=f"事件 {next(n)}",
            description="-",
            discovered_at=discovered,
            reporter_name="test",
            reported_at=discovered,
            report_clock="quality-general" if within else "",
            report_due_at=discovered + within if within else None,
            report_warn_at=discovered + within * 0.75 if within else None,
            report_submitted_at=submitted,
        )

    # 甲
    add(jia, START - D(days=10), "II", D(days=15), None)  # due 11-06, never submitted: due, overdue open
    add(jia, START - D(days=20), "I", D(days=15), START + D(days=1))  # due 10-27 (before), submitted late
    add(jia, START + D(days=2), "I", D(days=15), START + D(days=3))  # due 11-17, on time
    add(jia, START + D(days=5), "III", D(days=15), START + D(days=25))  # due 11-20, late
    add(jia, START + D(days=20), "II", D(days=15), None)  # due 12-05 (next month), not overdue
    add(jia, START + D(days=25), "IV")  # hazard, no report
    add(jia, END - D(hours=1), "II", D(hours=12), END + D(hours=2))  # due next month, submitted after end
    add(jia, END, "I")  # discovered at end: next month
    add(jia, START - D(seconds=1), "I")  # previous month
    # 乙
    add(yi, START + D(days=1), "II", D(days=15), START + D(days=20))  # due 11-16, late: overdue at end? no
    add(yi, START - D(days=40), "III", D(days=15), END + D(days=1))  # due 10-07, submitted after end: open


def _expected(ids: list[int]) -> dict[int, dict[str, int]]:
    out = {pk: dict.fromkeys(KEYS, 0) for pk in ids}
    for i in Incident.objects.filter(institution_id__in=ids):
        row = out[i.institution_id]
        if START <= i.discovered_at < END:
            row["incidents"] += 1
            row["serious_incidents"] += i.grade in ("I", "II")
        if not i.report_clock or i.report_due_at is None:
            continue
        if START <= i.report_due_at < END:
            row["reports_due"] += 1
            row["reports_on_time"] += bool(i.report_submitted_at and i.report_submitted_at <= i.report_due_at)
        if i.report_due_at < END and (i.report_submitted_at is None or i.report_submitted_at >= END):
            row["reports_overdue_open"] += 1
    return out


def test_monthly_counts_match_the_raw_rows(clin, django_assert_num_queries):
    _rows(clin)
    ids = [clin.clinic.jia.pk, clin.clinic.yi.pk, 999_999]
    with django_assert_num_queries(2):
        got = monthly_counts(ids, START, END)
    assert got == _expected(ids)
    jia = got[clin.clinic.jia.pk]
    assert jia == {
        "incidents": 5,
        "serious_incidents": 3,
        "reports_due": 3,
        "reports_on_time": 1,
        "reports_overdue_open": 1,
    }
    assert got[clin.clinic.yi.pk]["reports_overdue_open"] == 1
    assert got[999_999] == dict.fromkeys(KEYS, 0)


def test_no_institutions_no_queries(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert monthly_counts([], START, END) == {}
