"""Tenant-scoped reads of complaints (``visible_to``, models.visibility); a foreign or missing row is a 404."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField

from . import policy
from .choices import OPEN_STATUSES
from .models import Complaint

RELATED = ("institution", "owner", "received_by", "escalated_to", "case")
SLA_FILTERS = ("overdue", "due_soon", "on_time", "late")


def complaints(
    actor: Actor,
    *,
    institution_id: int | None = None,
    status: str = "",
    category: str = "",
    channel: str = "",
    sla: str = "",
    mine: bool = False,
    escalated: bool = False,
    at: dt.datetime | None = None,
) -> QuerySet[Complaint]:
    """Complaints the actor may see. ``sla``: ``overdue`` (a deadline passed and not met), ``due_soon`` (a
    deadline within its warning), ``on_time`` / ``late`` (resolved by / after the deadline)."""
    at = at or timezone.now()
    qs = Complaint.objects.visible_to(actor).select_related(*RELATED).order_by("-received_at", "-pk")
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    if channel:
        qs = qs.filter(channel=channel)
    if mine:
        qs = qs.filter(owner_id=actor.user_id) if actor.user_id else qs.none()
    if escalated:
        qs = qs.filter(escalated_at__isnull=False)
    open_ = Q(status__in=OPEN_STATUSES)
    ack_open = open_ & Q(acknowledged_at__isnull=True)
    res_open = open_ & Q(resolved_at__isnull=True)
    if sla == "overdue":
        qs = qs.filter((ack_open & Q(ack_due_at__lte=at)) | (res_open & Q(resolve_due_at__lte=at)))
    elif sla == "due_soon":
        qs = qs.filter(
            (ack_open & Q(ack_due_at__gt=at, ack_due_at__lte=at + policy.ACK_WARN_BEFORE))
            | (res_open & Q(resolve_due_at__gt=at, resolve_due_at__lte=at + policy.RESOLVE_WARN_BEFORE))
        )
    elif sla == "on_time":
        qs = qs.filter(resolved_at__isnull=False, resolved_at__lte=F("resolve_due_at"))
    elif sla == "late":
        qs = qs.filter(resolved_at__isnull=False, resolved_at__gt=F("resolve_due_at"))
    return qs


def complaint(actor: Actor, pk: int) -> Complaint:
    found = (
        Complaint.objects.visible_to(actor)
        .select_related(*RELATED)
        .prefetch_related("events__by", "events__to_user", "practitioners")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFoundField("complaint_id")
    return found


def public_status(tracking_no: str, contact_tail: str) -> dict[str, Any] | None:
    """The public status lookup (a later issue's page): the tracking number and the last four digits of the
    complainant's phone; ``None`` for any mismatch (the same answer whether the number exists or not)."""
    tracking_no = (tracking_no or "").strip().upper()
    if not (tracking_no.startswith("TS") and 10 <= len(tracking_no) <= 24 and tracking_no.isalnum()):
        return None
    found = Complaint.objects.select_related("institution").filter(tracking_no=tracking_no).first()
    if found is None or not found.contact_tail_matches(contact_tail or ""):
        return None
    return found.public_status()


# The steps a public status page may show (kind and day only: no notes, no names, no handovers).
PUBLIC_STEPS = (
    "received",
    "on_spot",
    "acknowledged",
    "investigating",
    "escalated",
    "resolved",
    "closed",
    "withdrawn",
)


def public_timeline(tracking_no: str, contact_tail: str) -> dict[str, Any] | None:
    """``public_status`` plus the timeline's steps as ``[{"kind", "on"}]`` (oldest first), for the public
    status page; ``None`` for any mismatch, as ``public_status``."""
    tracking_no = (tracking_no or "").strip().upper()
    if not (tracking_no.startswith("TS") and 10 <= len(tracking_no) <= 24 and tracking_no.isalnum()):
        return None
    found = Complaint.objects.select_related("institution").filter(tracking_no=tracking_no).first()
    if found is None or not found.contact_tail_matches(contact_tail or ""):
        return None
    status = found.public_status()
    status["steps"] = [
        {"kind": kind, "on": timezone.localtime(at).date()}
        for kind, at in found.events.filter(kind__in=PUBLIC_STEPS)
        .order_by("at", "pk")
        .values_list("kind", "at")
    ]
    return status
