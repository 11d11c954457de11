"""Every read of the reviews app, tenant-scoped; plus the one write-permission check (``can_write``).

Reading: members of the institution and auditors of an oversight body that oversees it (``visible_to``).
Writing depends on the campaign's kind, which a ``TenantPolicy`` cannot express:

- an **association** campaign is run by auditors of an oversight organisation that oversees the
  institution (``actor.overseen_org_ids``), never by the institution itself;
- an **internal** campaign is run by the institution's admins and compliance officers
  (``INSTITUTION_WRITERS``).

Platform admins and the system may do both. A campaign the actor cannot see is a 404; one they can see
but not write is a 403 with a message saying who may.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from meiguard.audit.models import AuditEntry
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import INSTITUTION_WRITERS
from meiguard.core.errors import ActionError
from meiguard.registry.models import Institution

from .checklist import MONTHLY_CHECKS
from .choices import CampaignKind, CampaignStatus, FindingStatus, ItemCategory, ItemStatus
from .models import Campaign, ChecklistItem, Finding
from .periods import quarter_of

DEFAULT_OVERDUE_DAYS = 15
MONTHLY_POSITION = {check.code: i for i, check in enumerate(MONTHLY_CHECKS)}


def overdue_days() -> int:
    """An open campaign is overdue this many days after its period ended (setting ``REVIEWS_OVERDUE_DAYS``)."""
    return int(getattr(settings, "REVIEWS_OVERDUE_DAYS", DEFAULT_OVERDUE_DAYS))


# ---- who may write ----------------------------------------------------------------------------------


def may_run(actor: Actor, institution: Institution, kind: str) -> bool:
    """May the actor create / change a campaign of ``kind`` for this (visible) institution?"""
    if actor.is_unrestricted:
        return True
    org = institution.organization_id
    if kind == CampaignKind.ASSOCIATION:
        return org in actor.overseen_org_ids
    return actor.can_write_org(org, INSTITUTION_WRITERS)


def refusal(kind: str) -> ActionError:
    if kind == CampaignKind.ASSOCIATION:
        message = _("只有监督该机构的协会/监督机构审计员可以开展协会审查")
    else:
        message = _("只有本机构的机构管理员或授权专员可以开展内部审查")
    return ActionError("FORBIDDEN", message, status=403)


def can_write(actor: Actor, campaign: Campaign) -> bool:
    return may_run(actor, campaign.institution, campaign.kind)


def require_write(actor: Actor, campaign: Campaign) -> None:
    if not can_write(actor, campaign):
        raise refusal(campaign.kind)


# ---- institutions -----------------------------------------------------------------------------------


def institutions(actor: Actor) -> QuerySet[Institution]:
    return Institution.objects.visible_to(actor).order_by("name", "pk")


def institution(actor: Actor, pk: int, field: str = "institution_id") -> Institution:
    inst = institutions(actor).filter(pk=pk).first()
    if inst is None:
        raise NotFoundField(field)
    return inst


def runnable(actor: Actor) -> list[tuple[Institution, list[str]]]:
    """Institutions where the actor may start a campaign, each with the kinds they may start."""
    out = []
    for inst in institutions(actor):
        kinds = [k for k in CampaignKind.values if may_run(actor, inst, k)]
        if kinds:
            out.append((inst, kinds))
    return out


# ---- campaigns --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignFilters:
    institution_id: int | None = None
    period: str = ""
    status: str = ""
    kind: str = ""


def campaigns(actor: Actor, filters: CampaignFilters | None = None) -> QuerySet[Campaign]:
    f = filters or CampaignFilters()
    qs = Campaign.objects.visible_to(actor).select_related("institution", "created_by")
    if f.institution_id:
        qs = qs.filter(institution_id=f.institution_id)
    if f.period:
        qs = qs.filter(period=f.period)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    return qs.annotate(
        open_findings=Count("findings", filter=Q(findings__status=FindingStatus.OPEN), distinct=True),
        item_count=Count("items", distinct=True),
        items_done=Count("items", filter=~Q(items__status=ItemStatus.OPEN), distinct=True),
    ).order_by("-starts_on", "institution__name", "pk")


def campaign(actor: Actor, pk: int, field: str = "id") -> Campaign:
    row = (
        Campaign.objects.visible_to(actor)
        .select_related("institution", "created_by", "closed_by")
        .filter(pk=pk)
        .first()
    )
    if row is None:
        raise NotFoundField(field)
    return row


def periods(actor: Actor) -> list[str]:
    return list(
        Campaign.objects.visible_to(actor).order_by("-period").values_list("period", flat=True).distinct()
    )


def items(campaign: Campaign) -> QuerySet[ChecklistItem]:
    return (
        ChecklistItem.objects.filter(campaign=campaign)
        .select_related("practitioner", "authorization", "qualification")
        .annotate(open_findings=Count("findings", filter=Q(findings__status=FindingStatus.OPEN)))
        .order_by("category", "month", "key")
    )


CATEGORY_ORDER = (
    ItemCategory.DENIED_DECISIONS,
    ItemCategory.EXPIRING_IN_USE,
    ItemCategory.TRAINING_SHORT,
    ItemCategory.MONTHLY_CHECK,
    ItemCategory.INVENTORY,
)


def items_by_category(campaign: Campaign) -> list[tuple[str, Any, list[ChecklistItem]]]:
    """(category, label, items) in a fixed order; empty categories are kept so the page says "none"."""
    labels = dict(ItemCategory.choices)
    grouped: dict[str, list[ChecklistItem]] = {c: [] for c in CATEGORY_ORDER}
    for row in items(campaign):
        grouped.setdefault(row.category, []).append(row)
    for rows in grouped.values():
        rows.sort(key=_item_order)
    return [(c, labels.get(c, c), rows) for c, rows in grouped.items()]


def _item_order(row: ChecklistItem) -> tuple[Any, ...]:
    """Most evidence first for data-derived items; monthly checks by month, in the list's own order."""
    facts = row.evidence or {}
    if row.category == ItemCategory.MONTHLY_CHECK:
        return (row.month or 0, MONTHLY_POSITION.get(row.check_code, 99), row.key)
    if row.category == ItemCategory.TRAINING_SHORT:
        return (str(facts.get("kind", "")), str(facts.get("practitioner", "")), row.key)
    if row.category == ItemCategory.EXPIRING_IN_USE:
        return (int(facts.get("days_left", 0)), row.key)
    if row.category == ItemCategory.INVENTORY:
        from .checklist import INVENTORY_ORDER

        code = row.check_code
        return (INVENTORY_ORDER.index(code) if code in INVENTORY_ORDER else 99, row.key)
    return (-row.evidence_count, row.key)


def item(actor: Actor, pk: int, field: str = "id") -> ChecklistItem:
    row = (
        ChecklistItem.objects.visible_to(actor)
        .select_related("campaign", "campaign__institution", "practitioner", "authorization")
        .filter(pk=pk)
        .first()
    )
    if row is None:
        raise NotFoundField(field)
    return row


def findings(campaign: Campaign) -> QuerySet[Finding]:
    return (
        Finding.objects.filter(campaign=campaign)
        .select_related("practitioner", "authorization", "item", "created_by", "action_by", "closed_by")
        .order_by("status", "-created_at", "-pk")
    )


def finding(actor: Actor, pk: int, field: str = "id") -> Finding:
    row = (
        Finding.objects.visible_to(actor)
        .select_related("campaign", "campaign__institution", "practitioner", "authorization", "item")
        .filter(pk=pk)
        .first()
    )
    if row is None:
        raise NotFoundField(field)
    return row


def history(actor: Actor, campaign: Campaign, limit: int = 200) -> list[AuditEntry]:
    """Audit entries of the campaign, its items and findings (newest first)."""
    item_ids = [str(i) for i in campaign.items.values_list("pk", flat=True)]
    finding_ids = [str(i) for i in campaign.findings.values_list("pk", flat=True)]
    q = Q(object_type="reviews.campaign", object_id=str(campaign.pk))
    if item_ids:
        q |= Q(object_type="reviews.checklistitem", object_id__in=item_ids)
    if finding_ids:
        q |= Q(object_type="reviews.finding", object_id__in=finding_ids)
    return list(AuditEntry.objects.visible_to(actor).filter(q).order_by("-created_at", "-seq")[:limit])


def counts(campaign: Campaign) -> dict[str, int]:
    item_counts = dict(
        ChecklistItem.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    finding_counts = dict(
        Finding.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {
        "items": sum(item_counts.values()),
        "items_open": item_counts.get("open", 0),
        "items_done": sum(item_counts.values()) - item_counts.get("open", 0),
        "items_ok": item_counts.get("ok", 0),
        "items_finding": item_counts.get("finding", 0),
        "findings": sum(finding_counts.values()),
        "findings_open": finding_counts.get("open", 0),
        "findings_closed": finding_counts.get("closed", 0),
    }


# ---- for the dashboard --------------------------------------------------------------------------------


def open_findings_by_institution(actor: Actor) -> list[tuple[Institution, int]]:
    """Institutions the actor can see, each with its number of open findings, most first (then by name)."""
    rows = institutions(actor).annotate(
        open_findings=Count(
            "review_campaigns__findings",
            filter=Q(review_campaigns__findings__status=FindingStatus.OPEN),
        )
    )
    out: list[tuple[Institution, int]] = [(inst, int(inst.open_findings)) for inst in rows]
    out.sort(key=lambda pair: (-pair[1], pair[0].name, pair[0].pk))
    return out


def overdue_reviews(actor: Actor, on: dt.date) -> QuerySet[Campaign]:
    """Open campaigns whose period ended more than ``REVIEWS_OVERDUE_DAYS`` (default 15) days before ``on``."""
    cutoff = on - dt.timedelta(days=overdue_days())
    return (
        Campaign.objects.visible_to(actor)
        .filter(status=CampaignStatus.OPEN, ends_on__lt=cutoff)
        .select_related("institution")
        .order_by("ends_on", "institution__name", "pk")
    )


def institutions_without_review(actor: Actor, on: dt.date, kind: str | None = None) -> QuerySet[Institution]:
    """Visible institutions with no campaign (of ``kind``, or any kind) for the quarter before ``on``'s."""
    previous = quarter_of(on).previous().label
    done = Campaign.objects.filter(period=previous)
    if kind:
        done = done.filter(kind=kind)
    return institutions(actor).exclude(pk__in=done.values("institution_id"))
