"""Monthly complaint figures per institution, for the monthly compliance report (issue 14 part 5).

``monthly_counts(institution_ids, start, end)`` → ``{institution id: {figure: n}}`` in **one** grouped query
whatever the number of complaints:

- ``complaints``: received in [start, end);
- ``ack_due`` / ``ack_on_time``: acknowledgement deadline in [start, end) (complaints withdrawn before their
  deadline are not counted); on time = acknowledged by the deadline;
- ``resolution_due`` / ``resolution_on_time``: the same for the resolution deadline;
- ``breaches_open``: at ``end``, a deadline passed and not met, the complaint neither withdrawn nor closed
  before ``end`` (one count per complaint, whichever clock);
- ``escalated``: submitted to the association in [start, end).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db.models import Count, F, Q

from .models import Complaint

FIGURES = (
    "complaints",
    "ack_due",
    "ack_on_time",
    "resolution_due",
    "resolution_on_time",
    "breaches_open",
    "escalated",
)


def _due(due: str, done: str, start: dt.datetime, end: dt.datetime) -> tuple[Q, Q]:
    not_withdrawn_first = Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gt=F(due))
    in_month = Q(**{f"{due}__gte": start, f"{due}__lt": end}) & not_withdrawn_first
    on_time = in_month & Q(**{f"{done}__isnull": False, f"{done}__lte": F(due)})
    return in_month, on_time


def _open_breach(due: str, done: str, end: dt.datetime) -> Q:
    return Q(**{f"{due}__lt": end}) & (Q(**{f"{done}__isnull": True}) | Q(**{f"{done}__gte": end}))


def monthly_counts(
    institution_ids: Sequence[int], start: dt.datetime, end: dt.datetime
) -> dict[int, dict[str, int]]:
    ids = sorted(set(institution_ids))
    out = {pk: dict.fromkeys(FIGURES, 0) for pk in ids}
    if not ids:
        return out
    ack_due, ack_on_time = _due("ack_due_at", "acknowledged_at", start, end)
    res_due, res_on_time = _due("resolve_due_at", "resolved_at", start, end)
    still_open = (Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gte=end)) & (
        Q(closed_at__isnull=True) | Q(closed_at__gte=end)
    )
    breach = still_open & (
        _open_breach("ack_due_at", "acknowledged_at", end)
        | _open_breach("resolve_due_at", "resolved_at", end)
    )
    rows = (
        Complaint.objects.filter(institution_id__in=ids, received_at__lt=end)
        .values("institution_id")
        .annotate(
            complaints=Count("pk", filter=Q(received_at__gte=start)),
            ack_due=Count("pk", filter=ack_due),
            ack_on_time=Count("pk", filter=ack_on_time),
            resolution_due=Count("pk", filter=res_due),
            resolution_on_time=Count("pk", filter=res_on_time),
            breaches_open=Count("pk", filter=breach),
            escalated=Count("pk", filter=Q(escalated_at__gte=start, escalated_at__lt=end)),
        )
        .order_by()
    )
    for row in rows:
        out[row["institution_id"]] = {f: int(row[f]) for f in FIGURES}
    return out
