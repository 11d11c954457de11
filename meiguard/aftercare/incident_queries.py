"""Tenant-scoped reads of incidents (``visible_to`` and, for staff who are not managers, only what they
reported); a foreign or missing row is a 404."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField

from .incidents import visible_q
from .models import EvidenceSeal, Incident

RELATED = ("institution", "case", "case__client", "case__operator", "product", "lot", "device", "reaction")


def incidents(
    actor: Actor,
    *,
    institution_id: int | None = None,
    kind: str = "",
    status: str = "",
    report: str = "",
    at: dt.datetime | None = None,
) -> QuerySet[Incident]:
    """The register; ``report``: ``due`` (running), ``overdue`` (past the deadline, not submitted),
    ``submitted`` or ``none`` (no regulatory report)."""
    at = at or timezone.now()
    qs = Incident.objects.visible_to(actor).filter(visible_q(actor)).select_related(*RELATED)
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if report == "due":
        qs = qs.exclude(report_clock="").filter(report_submitted_at__isnull=True, report_due_at__gt=at)
    elif report == "overdue":
        qs = qs.exclude(report_clock="").filter(report_submitted_at__isnull=True, report_due_at__lte=at)
    elif report == "submitted":
        qs = qs.filter(report_submitted_at__isnull=False)
    elif report == "none":
        qs = qs.filter(report_clock="")
    return qs.order_by("-discovered_at", "-pk")


def incident(actor: Actor, pk: int) -> Incident:
    found = (
        Incident.objects.visible_to(actor)
        .filter(visible_q(actor))
        .select_related(*RELATED, "lot__product", "device__product", "report_submitted_by", "cluster")
        .prefetch_related("seals__unseal", "seals__lot", "members", "cluster_reactions__case")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFoundField("incident_id")
    return found


def seal(actor: Actor, pk: int) -> EvidenceSeal:
    found = (
        EvidenceSeal.objects.visible_to(actor).select_related("incident__institution").filter(pk=pk).first()
    )
    if found is None or not Incident.objects.filter(visible_q(actor), pk=found.incident_id).exists():
        raise NotFoundField("seal_id")
    return found
