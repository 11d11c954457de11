"""Incident figures for the monthly compliance report (called by the report's builder; no tenancy here — the
caller passes the institutions it may report on).

``monthly_counts(institution_ids, start, end)`` per institution:

- ``incidents``: incidents (clusters included) discovered in [start, end);
- ``serious_incidents``: of those, grade I (警讯) or II (不良后果);
- ``reports_due``: regulatory reports whose deadline falls in [start, end);
- ``reports_on_time``: of those, submitted by the deadline;
- ``reports_overdue_open``: deadline before ``end`` and not submitted at ``end`` (submitted later, or never).

Two grouped queries whatever the number of rows or institutions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db.models import Count, F, Q

from .choices import SERIOUS_GRADES
from .models import Incident

KEYS = ("incidents", "serious_incidents", "reports_due", "reports_on_time", "reports_overdue_open")


def monthly_counts(
    institution_ids: Sequence[int], start: dt.datetime, end: dt.datetime
) -> dict[int, dict[str, int]]:
    ids = sorted(set(institution_ids))
    out: dict[int, dict[str, int]] = {pk: dict.fromkeys(KEYS, 0) for pk in ids}
    if not ids:
        return out
    discovered = (
        Incident.objects.filter(institution_id__in=ids, discovered_at__gte=start, discovered_at__lt=end)
        .values("institution_id")
        .annotate(n=Count("pk"), serious=Count("pk", filter=Q(grade__in=SERIOUS_GRADES)))
        .order_by()
    )
    for row in discovered:
        out[row["institution_id"]]["incidents"] = row["n"]
        out[row["institution_id"]]["serious_incidents"] = row["serious"]
    in_month = Q(report_due_at__gte=start, report_due_at__lt=end)
    reports = (
        Incident.objects.filter(institution_id__in=ids, report_due_at__lt=end)
        .exclude(report_clock="")
        .values("institution_id")
        .annotate(
            due=Count("pk", filter=in_month),
            on_time=Count("pk", filter=in_month & Q(report_submitted_at__lte=F("report_due_at"))),
            open_overdue=Count(
                "pk", filter=Q(report_submitted_at__isnull=True) | Q(report_submitted_at__gte=end)
            ),
        )
        .order_by()
    )
    for row in reports:
        out[row["institution_id"]]["reports_due"] = row["due"]
        out[row["institution_id"]]["reports_on_time"] = row["on_time"]
        out[row["institution_id"]]["reports_overdue_open"] = row["open_overdue"]
    return out
