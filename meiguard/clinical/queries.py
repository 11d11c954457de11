"""Every read of the clinical app, tenant-scoped through ``visible_to``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.registry.crypto import blind_index
from meiguard.registry.models import Lot
from meiguard.registry.validators import normalize_code

from .choices import DocumentType
from .models import (
    Assessment,
    Case,
    ChecklistNode,
    Client,
    ConsentSignature,
    Consultation,
    OperationRecord,
    Review,
    Usage,
)

SEARCH_LIMIT = 50


def search_clients(actor: Actor, institution_id: int, q: str, *, limit: int = SEARCH_LIMIT) -> list[Client]:
    """By ID number (exact, through the blind index of every document type), phone (exact) or name (prefix).
    Each branch is one indexed lookup: (institution, id_number_index), (institution, phone), (institution, name)."""
    q = (q or "").strip()[:64]
    if not q:
        return []
    base = Client.objects.visible_to(actor).filter(institution_id=institution_id)
    code = normalize_code(q)
    phone = q.replace(" ", "").replace("-", "")
    by_phone = Q(phone=phone) if phone.lstrip("+").isdigit() else Q()
    if code.isalnum() and len(code) >= 6 and any(ch.isdigit() for ch in code):
        # One query: an ID number of any document type, or (a number that is not one) the phone number.
        indexes = [blind_index(f"{t}:{code}") for t in DocumentType.values]
        return list(base.filter(Q(id_number_index__in=indexes) | by_phone).order_by("name", "pk")[:limit])
    if by_phone:
        return list(base.filter(by_phone)[:limit])
    prefix: dict[str, str] = {"name__startswith": q}
    if connection.vendor == "sqlite":
        # SQLite's LIKE ignores ASCII case and cannot use the index; the same prefix as a range can
        # (PostgreSQL uses its varchar_pattern_ops index for LIKE 'prefix%' instead, migration 0002).
        prefix.update(name__gte=q, name__lt=q + "\U0010ffff")
    return list(base.filter(**prefix).order_by("name", "pk")[:limit])


def client(actor: Actor, pk: int) -> Client:
    found = Client.objects.visible_to(actor).select_related("institution").filter(pk=pk).first()
    if found is None:
        raise NotFoundField("client_id")
    return found


def case(actor: Actor, pk: int) -> Case:
    found = (
        Case.objects.visible_to(actor)
        .select_related("client", "institution", "operator", "anesthetist", "nurse")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFoundField("case_id")
    return found


@dataclass(frozen=True, slots=True)
class Event:
    at: dt.datetime
    kind: str
    summary: str
    data: dict[str, Any]


def timeline(actor: Actor, pk: int) -> tuple[Case, list[Event]]:
    """The case's steps in time order, built from the rows themselves (the audit trail has the who/when of
    every change as well)."""
    c = case(actor, pk)
    events: list[Event] = [Event(c.created_at, "case.created", c.procedure_name, {"code": c.code})]
    cons = Consultation.objects.filter(case=c).select_related("doctor").first()
    if cons is not None:
        events.append(Event(cons.created_at, "consultation.saved", cons.needs[:80], {}))
        if cons.signed_at:
            events.append(
                Event(cons.signed_at, "consultation.signed", cons.doctor.name if cons.doctor else "", {})
            )
    for sig in ConsentSignature.objects.filter(case=c):
        events.append(
            Event(
                sig.signed_at,
                f"consent.{sig.decision}",
                sig.signer_name,
                {"template_version": sig.template_version, "content_hash": sig.content_hash},
            )
        )
        if sig.withdrawn_at:
            events.append(Event(sig.withdrawn_at, "consent.withdrawn", sig.withdrawal_reason[:80], {}))
    a = Assessment.objects.filter(case=c).select_related("chief_signed_by", "anesthetist_signed_by").first()
    if a is not None:
        events.append(
            Event(
                a.created_at,
                "assessment.saved",
                f"{a.score}",
                {"score": a.score, "risk_level": a.risk_level, "passed": a.passed},
            )
        )
        if a.chief_signed_at and a.chief_signed_by:
            events.append(Event(a.chief_signed_at, "assessment.chief_signed", a.chief_signed_by.name, {}))
        if a.anesthetist_signed_at and a.anesthetist_signed_by:
            events.append(
                Event(
                    a.anesthetist_signed_at, "assessment.anesthetist_signed", a.anesthetist_signed_by.name, {}
                )
            )
    r = Review.objects.filter(case=c).first()
    if r is not None:
        events.append(Event(r.created_at, "review.opened", r.kind, {"kind": r.kind, "warnings": r.warnings}))
        if r.decided_at:
            events.append(Event(r.decided_at, f"review.{r.status}", r.kind, {}))
    for node in ChecklistNode.objects.filter(case=c):
        if node.completed_at:
            events.append(Event(node.completed_at, "checklist.completed", node.node, {"node": node.node}))
    rec = OperationRecord.objects.filter(case=c).first()
    if rec is not None:
        events.append(Event(rec.opened_at, "record.opened", "", {"decision_id": rec.decision_id}))
        for u in Usage.objects.filter(record=rec).select_related("lot", "device"):
            label = u.lot.lot_no if u.lot else (u.device.serial_no if u.device else "")
            events.append(
                Event(
                    u.created_at,
                    "usage.added",
                    label,
                    {
                        "lot_id": u.lot_id,
                        "device_id": u.device_id,
                        "dose": f"{u.dose_value.normalize():f}{u.dose_unit}"
                        if u.dose_value is not None
                        else "",
                        "site": u.site,
                        "minutes": u.minutes,
                    },
                )
            )
        if rec.closed_at:
            events.append(Event(rec.closed_at, "record.closed", "", {}))
    events.sort(key=lambda e: e.at)
    return c, events


def usages(actor: Actor) -> QuerySet[Usage]:
    return Usage.objects.visible_to(actor).select_related("client", "case", "lot__product", "device__product")


def clients_of_lot(actor: Actor, lot_id: int) -> QuerySet[Usage]:
    """Which clients received lot X (recall look-back): one indexed query on (lot, client)."""
    if not Lot.objects.visible_to(actor).filter(pk=lot_id).exists():
        raise NotFoundField("lot_id")
    return usages(actor).filter(lot_id=lot_id).order_by("client_id", "created_at", "pk")


def usages_of_client(actor: Actor, client_id: int) -> QuerySet[Usage]:
    """What went into client Y: one indexed query on (client, created_at)."""
    client(actor, client_id)
    return usages(actor).filter(client_id=client_id).order_by("created_at", "pk")


def checklist_coverage(actor: Actor, institution_id: int) -> dict[str, int]:
    """Surgical cases whose record was opened, and how many have all three nodes complete."""
    surgical = Case.objects.visible_to(actor).filter(
        institution_id=institution_id, invasiveness="surgical", record__isnull=False
    )
    total = surgical.count()
    complete = (
        surgical.annotate(n=Count("checklist", filter=Q(checklist__completed_at__isnull=False)))
        .filter(n=3)
        .count()
    )
    return {"surgical_cases": total, "all_nodes_complete": complete}


def photos_of_client(actor: Actor, client_id: int) -> list[Any]:
    """The client's photos (metadata only; the bytes go through ``actions.view_photo``, audited)."""
    from .models import ClientPhoto

    client(actor, client_id)
    return list(ClientPhoto.objects.visible_to(actor).filter(client_id=client_id).order_by("taken_at", "pk"))


COVERAGE_TARGET = 100  # per cent of surgical cases with all three checklist nodes complete


@dataclass(frozen=True, slots=True)
class CoverageMonth:
    month: str  # "2026-11" (local time of the record's opening)
    surgical_cases: int
    all_nodes_complete: int

    @property
    def share(self) -> float | None:
        """Per cent, one decimal; None for a month without surgical cases."""
        if not self.surgical_cases:
            return None
        return round(100 * self.all_nodes_complete / self.surgical_cases, 1)


def checklist_coverage_by_month(
    actor: Actor, institution_id: int, *, start: dt.date, end: dt.date
) -> list[CoverageMonth]:
    """Surgical cases whose record opened in [start, end] (local dates), by month, and how many have all
    three checklist nodes complete. One query for the rows plus one for the institution's visibility."""
    from django.db.models import Count
    from django.utils import timezone

    from meiguard.registry.models import Institution

    if not Institution.objects.visible_to(actor).filter(pk=institution_id).exists():
        raise NotFoundField("institution_id")
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    rows = (
        OperationRecord.objects.visible_to(actor)
        .filter(
            case__institution_id=institution_id,
            case__invasiveness="surgical",
            opened_at__gte=lo,
            opened_at__lt=hi,
        )
        .annotate(done=Count("case__checklist", filter=Q(case__checklist__completed_at__isnull=False)))
        .values_list("opened_at", "done")
    )
    months: dict[str, list[int]] = {}
    cursor = start.replace(day=1)
    while cursor <= end:
        months[f"{cursor:%Y-%m}"] = [0, 0]
        cursor = (cursor + dt.timedelta(days=32)).replace(day=1)
    for opened_at, done in rows:
        key = f"{timezone.localtime(opened_at, tz):%Y-%m}"
        bucket = months.setdefault(key, [0, 0])
        bucket[0] += 1
        bucket[1] += int(done >= 3)
    return [CoverageMonth(k, v[0], v[1]) for k, v in months.items()]
