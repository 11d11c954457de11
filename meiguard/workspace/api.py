"""The dashboard as JSON (mounted at /api/v1/workspace): the same panels the home page shows, for the caller."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Router, Schema

from . import queries

router = Router(tags=["workspace"])


class BucketOut(Schema):
    bucket: int
    label: str
    count: int


class KindOut(Schema):
    kind: str
    label: str
    counts: list[int]  # per bucket, in the order of ``buckets``
    total: int


class DashboardExpiringItemOut(Schema):
    kind: str
    kind_label: str
    label: str
    holder: str
    institution_id: int | None
    practitioner_id: int | None
    expires_on: dt.date
    days_left: int
    bucket: int | None
    url: str


class ExpiriesOut(Schema):
    within_days: int
    total: int
    buckets: list[BucketOut]
    by_kind: list[KindOut]
    soonest: list[DashboardExpiringItemOut]


class DashboardPendingOut(Schema):
    application_id: int
    stage: str
    title: str
    practitioner: str
    institution: str
    opened_at: dt.datetime | None
    url: str


class ApprovalsOut(Schema):
    count: int
    items: list[DashboardPendingOut]


class DeniedItemOut(Schema):
    id: int
    at: dt.datetime
    institution: str
    practitioner: str
    procedure_code: str
    reason_codes: list[str]
    url: str


class DeniedOut(Schema):
    count: int
    since: dt.date
    items: list[DeniedItemOut]


class OverdueReviewOut(Schema):
    campaign_id: int
    institution: str
    period: str
    kind: str
    ends_on: dt.date
    days_overdue: int
    url: str


class ReviewsOut(Schema):
    count: int
    items: list[OverdueReviewOut]


class OverdueDeviceOut(Schema):
    device_id: int
    device: str
    institution: str
    state: str  # overdue | out_of_service
    due: dt.date | None  # the earliest missed inspection/calibration due date
    url: str


class DevicesOut(Schema):
    count: int
    items: list[OverdueDeviceOut]


class PanelFollowUpOut(Schema):
    id: int
    case: str
    kind: str
    offset: str
    due_at: dt.datetime
    url: str


class PanelReactionOut(Schema):
    id: int
    case: str
    grade: str
    due_at: dt.datetime
    url: str


class AftercarePanelOut(Schema):
    overdue: list[PanelFollowUpOut]
    today: list[PanelFollowUpOut]
    reactions: list[PanelReactionOut]


class DashboardCampaignOut(Schema):
    id: int
    period: str
    kind: str
    status: str
    ends_on: dt.date


class MemberOut(Schema):
    institution_id: int
    institution: str
    open_findings: int
    last_campaign: DashboardCampaignOut | None


class CapabilityOut(Schema):
    procedure_code: str
    name: str
    grade: int | None
    outcome: str


class PlaceOut(Schema):
    institution_id: int
    institution: str
    is_main: bool
    rule_pack: str
    error: str
    allowed: list[CapabilityOut]
    denied_count: int


class MyPracticeOut(Schema):
    practitioner_id: int
    practitioner: str
    on: dt.date
    places: list[PlaceOut]


class CreditClassOut(Schema):
    key: str
    label: str
    earned: Decimal
    unverified: Decimal
    minimum: Decimal
    maximum: Decimal
    counted: Decimal
    met: bool


class CmeOut(Schema):
    year: int
    required: Decimal
    counted: Decimal
    earned: Decimal
    missing: Decimal
    met: bool
    classes: list[CreditClassOut]
    rule_id: str
    rule_source: str


class MonthOut(Schema):
    month: dt.date
    count: int


class WeekOut(Schema):
    week: dt.date
    allowed: int
    denied: int


class DashboardOut(Schema):
    on: dt.date
    roles: list[str]
    panels: list[str]  # the panels for the caller's roles, in page order
    unavailable: list[str]  # panels whose data source is not installed
    capabilities: MyPracticeOut | None = None
    my_expiries: ExpiriesOut | None = None
    cme: CmeOut | None = None
    approvals: ApprovalsOut | None = None
    members: list[MemberOut] | None = None
    expiries: ExpiriesOut | None = None
    denied: DeniedOut | None = None
    reviews: ReviewsOut | None = None
    devices: DevicesOut | None = None
    aftercare: AftercarePanelOut | None = None
    expiry_chart: list[MonthOut] | None = None
    decision_chart: list[WeekOut] | None = None


def _expiries(d: queries.Expiries) -> dict[str, Any]:
    return {
        "within_days": d.within_days,
        "total": d.total,
        "buckets": [{"bucket": b.bucket, "label": b.label, "count": b.count} for b in d.buckets],
        "by_kind": [
            {"kind": k.kind, "label": k.label, "counts": list(k.counts), "total": k.total} for k in d.kinds
        ],
        "soonest": [
            {
                "kind": i.kind,
                "kind_label": i.kind_label,
                "label": i.label,
                "holder": i.holder,
                "institution_id": i.institution_id,
                "practitioner_id": i.practitioner_id,
                "expires_on": i.expires_on,
                "days_left": i.days_left,
                "bucket": i.bucket,
                "url": i.url,
            }
            for i in d.soonest
        ],
    }


def _capabilities(d: queries.MyPractice) -> dict[str, Any]:
    return {
        "practitioner_id": d.practitioner.pk,
        "practitioner": d.practitioner.name,
        "on": d.caps.on,
        "places": [
            {
                "institution_id": ic.institution.pk,
                "institution": ic.institution.name,
                "is_main": ic.is_main,
                "rule_pack": ic.rule_pack,
                "error": ic.error,
                "allowed": [
                    {
                        "procedure_code": c.procedure.code,
                        "name": c.procedure.name,
                        "grade": c.procedure.grade,
                        "outcome": str(c.outcome),
                    }
                    for c in ic.allowed
                ],
                "denied_count": len(ic.denied),
            }
            for ic in d.caps
        ],
    }


def _cme(d: queries.Cme) -> dict[str, Any]:
    return {
        "year": d.year,
        "required": d.required,
        "counted": d.counted,
        "earned": d.earned,
        "missing": d.missing,
        "met": d.met,
        "classes": [
            {
                "key": c.key,
                "label": c.label,
                "earned": c.earned,
                "unverified": c.unverified,
                "minimum": c.minimum,
                "maximum": c.maximum,
                "counted": c.counted,
                "met": c.met,
            }
            for c in d.classes
        ],
        "rule_id": d.rule_id,
        "rule_source": d.rule_source,
    }


def _approvals(d: queries.Approvals) -> dict[str, Any]:
    return {
        "count": d.count,
        "items": [
            {
                "application_id": i.application_id,
                "stage": i.stage,
                "title": i.title,
                "practitioner": i.practitioner,
                "institution": i.institution,
                "opened_at": i.opened_at,
                "url": i.url,
            }
            for i in d.items
        ],
    }


def _members(d: list[queries.MemberRow]) -> list[dict[str, Any]]:
    return [
        {
            "institution_id": m.institution.pk,
            "institution": m.institution.name,
            "open_findings": m.open_findings,
            "last_campaign": (
                {
                    "id": m.last_campaign.pk,
                    "period": m.last_campaign.period,
                    "kind": m.last_campaign.kind,
                    "status": m.last_campaign.status,
                    "ends_on": m.last_campaign.ends_on,
                }
                if m.last_campaign is not None
                else None
            ),
        }
        for m in d
    ]


def _denied(d: queries.Denied) -> dict[str, Any]:
    return {
        "count": d.count,
        "since": d.since,
        "items": [
            {
                "id": row.pk,
                "at": row.at,
                "institution": row.institution.name,
                "practitioner": row.practitioner.name,
                "procedure_code": row.procedure_code,
                "reason_codes": list(row.reason_codes or ()),
                "url": reverse("authz:decision_detail", args=[row.pk]),
            }
            for row in d.items
        ],
    }


def _reviews(d: queries.Reviews) -> dict[str, Any]:
    return {
        "count": d.count,
        "items": [
            {
                "campaign_id": r.campaign.pk,
                "institution": r.campaign.institution.name,
                "period": r.campaign.period,
                "kind": r.campaign.kind,
                "ends_on": r.campaign.ends_on,
                "days_overdue": r.days_overdue,
                "url": r.url,
            }
            for r in d.items
        ],
    }


def _devices(d: queries.Devices) -> dict[str, Any]:
    return {
        "count": d.count,
        "items": [
            {
                "device_id": r.device.pk,
                "device": str(r.device),
                "institution": r.device.institution.name,
                "state": str(r.state),
                "due": r.due,
                "url": r.url,
            }
            for r in d.items
        ],
    }


def _follow_up(fu: Any) -> dict[str, Any]:
    return {
        "id": fu.pk,
        "case": fu.case.code,
        "kind": fu.get_kind_display(),
        "offset": fu.offset,
        "due_at": fu.due_at,
        "url": f"/aftercare/follow-ups/{fu.pk}/",
    }


def _aftercare(d: Any) -> dict[str, Any]:
    return {
        "overdue": [_follow_up(fu) for fu in d.overdue],
        "today": [_follow_up(fu) for fu in d.today],
        "reactions": [
            {
                "id": rx.pk,
                "case": rx.case.code,
                "grade": rx.get_grade_display(),
                "due_at": rx.due_at,
                "url": f"/aftercare/reactions/{rx.pk}/",
            }
            for rx in d.reactions
        ],
    }


SERIALIZERS: dict[str, Any] = {
    "capabilities": _capabilities,
    "my_expiries": _expiries,
    "cme": _cme,
    "approvals": _approvals,
    "members": _members,
    "expiries": _expiries,
    "denied": _denied,
    "reviews": _reviews,
    "devices": _devices,
    "aftercare": _aftercare,
    "expiry_chart": lambda d: [{"month": p.month, "count": p.count} for p in d.points],
    "decision_chart": lambda d: [
        {"week": p.week, "allowed": p.allowed, "denied": p.denied} for p in d.points
    ],
}


@router.get("/dashboard", response=DashboardOut, summary="工作台面板数据 / The caller's dashboard panels")
def dashboard(request: HttpRequest) -> dict[str, Any]:
    """Every panel of the caller's roles, as on the home page; a panel with no data for the caller is null."""
    actor = request.actor  # type: ignore[attr-defined]
    board, panels = queries.dashboard(actor, timezone.now())
    out: dict[str, Any] = {
        "on": board.on,
        "roles": sorted(actor.roles()),
        "panels": [p.key for p in panels],
        "unavailable": [p.key for p in panels if p.unavailable],
    }
    for p in panels:
        if p.data is not None:
            out[p.key] = SERIALIZERS[p.key](p.data)
    return out
