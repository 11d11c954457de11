"""Every state change of a review: campaigns, checklist, findings and their actions. Atomic and audited.

A **suspend** action suspends the authorization through ``authz.actions.change_status`` inside the same
transaction, so the finding and the suspension commit (or fail) together, and the decision engine's cache is
invalidated on commit: the next check is denied. An association auditor cannot otherwise write an
institution's authorizations; for this one call the review acts for the institution (see ``_acting_for``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.authz import actions as authz_actions
from meiguard.authz.models import Authorization
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import Role
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.notify.models import NotificationKind
from meiguard.notify.services import send, users_with_roles
from meiguard.registry.models import Institution, Practitioner

from . import checklist, queries
from .checklist import ITEM_FIELDS
from .choices import (
    ACTION_RANK,
    CampaignKind,
    CampaignStatus,
    FindingAction,
    FindingStatus,
    ItemStatus,
    Severity,
)
from .models import Campaign, ChecklistItem, Finding
from .periods import Quarter, parse

DEFAULT_RETRAIN_DAYS = 30
DESCRIPTION_MAX = 4000
NOTE_MAX = 4000


def retrain_days() -> int:
    """Default days to complete retraining when no due date is given (setting ``REVIEWS_RETRAIN_DAYS``)."""
    return int(getattr(settings, "REVIEWS_RETRAIN_DAYS", DEFAULT_RETRAIN_DAYS))


# ---- loading for write ---------------------------------------------------------------------------------


def _campaign_for_write(actor: Actor, pk: int, *, open_only: bool = True, field: str = "id") -> Campaign:
    campaign = queries.campaign(actor, pk, field=field)  # 404 if not visible
    queries.require_write(actor, campaign)  # 403 with who may
    locked = Campaign.objects.select_for_update().select_related("institution").get(pk=campaign.pk)
    if open_only and locked.status != CampaignStatus.OPEN:
        raise ActionError("CAMPAIGN_CLOSED", _("该审查已结束,不能再修改"), field="status", status=409)
    return locked


def _finding_for_write(actor: Actor, pk: int) -> Finding:
    row = queries.finding(actor, pk)
    queries.require_write(actor, row.campaign)
    return (
        Finding.objects.select_for_update(of=("self",))
        .select_related("campaign", "campaign__institution", "practitioner", "authorization", "item")
        .get(pk=row.pk)
    )


def _text(value: str | None, field: str, *, required: bool, limit: int) -> str:
    text = (value or "").strip()
    if required and not text:
        raise FieldErrors({field: [_("此字段为必填项")]})
    if len(text) > limit:
        raise FieldErrors({field: [_("长度不能超过 %(n)s") % {"n": limit}]})
    return text


def _user_id(actor: Actor) -> int | None:
    return actor.user_id


def _url(campaign_id: int, anchor: str = "") -> str:
    return reverse("reviews:campaign_detail", args=[campaign_id]) + (f"#{anchor}" if anchor else "")


# ---- campaigns -------------------------------------------------------------------------------------------


@transaction.atomic
def create_campaign(
    actor: Actor,
    *,
    institution_id: int,
    period: str,
    kind: str = CampaignKind.ASSOCIATION,
    build: bool = True,
    today: dt.date | None = None,
) -> Campaign:
    """Open a campaign for one quarter (one per institution, quarter and kind); builds its checklist."""
    if kind not in CampaignKind.values:
        raise FieldErrors(
            {"kind": [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(CampaignKind.values)}]}
        )
    quarter = parse(period)
    if quarter is None:
        raise FieldErrors({"period": [_("审查期间应为季度,例如 2026-Q4")]})
    inst = queries.institution(actor, institution_id)
    if not queries.may_run(actor, inst, kind):
        raise queries.refusal(kind)
    if Campaign.objects.filter(institution=inst, period=quarter.label, kind=kind).exists():
        raise _duplicate(quarter)
    campaign = Campaign(
        institution=inst,
        kind=kind,
        period=quarter.label,
        starts_on=quarter.start,
        ends_on=quarter.end,
        created_by_id=_user_id(actor),
    )
    try:
        with transaction.atomic():
            campaign.save(force_insert=True)
    except IntegrityError:  # a concurrent request created the same campaign first
        raise _duplicate(quarter) from None
    audit.record(actor, "reviews.campaign.created", campaign, before={})
    if kind == CampaignKind.ASSOCIATION:
        send(
            users_with_roles(inst.organization_id, [Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER]),
            kind=NotificationKind.REVIEW,
            message="reviews.campaign_opened",
            params={"inst": inst.name, "period": quarter.label},
            url=_url(campaign.pk),
            dedupe_key=f"reviews:campaign:{campaign.pk}:opened",
        )
    if build:
        _rebuild(actor, campaign, today or timezone.localdate())
    return campaign


def _duplicate(quarter: Quarter) -> ActionError:
    return ActionError(
        "CAMPAIGN_EXISTS",
        _("该机构 %(period)s 已有同类审查") % {"period": quarter.label},
        field="period",
        status=409,
    )


@dataclass(frozen=True, slots=True)
class RebuildResult:
    campaign: Campaign
    created: int
    updated: int
    unchanged: int
    removed: int
    kept_stale: int


@transaction.atomic
def rebuild_checklist(actor: Actor, campaign_id: int, *, today: dt.date | None = None) -> RebuildResult:
    """Refresh the data-derived items; recorded statuses, notes and findings are kept (idempotent)."""
    campaign = _campaign_for_write(actor, campaign_id)
    return _rebuild(actor, campaign, today or timezone.localdate())


def _rebuild(actor: Actor, campaign: Campaign, today: dt.date) -> RebuildResult:
    quarter = parse(campaign.period)
    assert quarter is not None
    derived = {d.key: d for d in checklist.derive(campaign.institution, quarter, today)}
    existing = {i.key: i for i in ChecklistItem.objects.select_for_update().filter(campaign=campaign)}
    with_findings = set(
        ChecklistItem.objects.filter(campaign=campaign, findings__isnull=False).values_list("key", flat=True)
    )
    created = updated = unchanged = removed = stale = 0
    new_items = []
    for key, d in derived.items():
        values = d.values()
        row = existing.get(key)
        if row is None:
            new_items.append(ChecklistItem(campaign=campaign, key=key, is_current=True, **values))
            created += 1
            continue
        changed = [name for name in ITEM_FIELDS if getattr(row, name) != values[name]]
        if not row.is_current:
            changed.append("is_current")
            row.is_current = True
        if changed:
            for name in ITEM_FIELDS:
                setattr(row, name, values[name])
            row.save(update_fields=[*ITEM_FIELDS, "is_current", "updated_at"])
            updated += 1
        else:
            unchanged += 1
    ChecklistItem.objects.bulk_create(new_items)
    gone = [row for key, row in existing.items() if key not in derived]
    drop = [r.pk for r in gone if r.status == ItemStatus.OPEN and r.key not in with_findings]
    keep = [r for r in gone if r.pk not in drop]
    if drop:
        ChecklistItem.objects.filter(pk__in=drop).delete()
        removed = len(drop)
    for row in keep:
        if row.is_current:
            row.is_current = False
            row.save(update_fields=["is_current", "updated_at"])
        stale += 1
    before = {"built_at": campaign.built_at}
    campaign.built_at = timezone.now()
    campaign.save(update_fields=["built_at", "updated_at"])
    counts = {
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
        "removed": removed,
        "stale": stale,
    }
    if created or updated or removed or before["built_at"] is None:
        audit.record(
            actor,
            "reviews.campaign.rebuilt",
            campaign,
            changes={"checklist": [None, counts]},
            reason=_("按数据生成检查清单"),
        )
    return RebuildResult(campaign, created, updated, unchanged, removed, stale)


@transaction.atomic
def close_campaign(actor: Actor, campaign_id: int, *, summary: str = "", note: str = "") -> Campaign:
    """End the campaign. Refused while findings are open, unless a note explains why (they stay open)."""
    campaign = _campaign_for_write(actor, campaign_id)
    summary = _text(summary, "summary", required=False, limit=NOTE_MAX)
    note = _text(note, "note", required=False, limit=NOTE_MAX)
    open_findings = campaign.findings.filter(status=FindingStatus.OPEN).count()
    if open_findings and not note:
        raise ActionError(
            "OPEN_FINDINGS",
            _("还有 %(n)s 个问题未关闭;请先关闭,或填写结束说明后结束审查") % {"n": open_findings},
            field="note",
            status=409,
        )
    before = audit.snapshot(campaign)
    campaign.status = CampaignStatus.CLOSED
    campaign.closed_at = timezone.now()
    campaign.closed_by_id = _user_id(actor)
    campaign.summary = summary or campaign.summary
    campaign.close_note = note
    campaign.save(update_fields=["status", "closed_at", "closed_by", "summary", "close_note", "updated_at"])
    audit.record(actor, "reviews.campaign.closed", campaign, before=before, reason=note)
    return campaign


# ---- checklist items --------------------------------------------------------------------------------


@transaction.atomic
def mark_item_ok(actor: Actor, item_id: int, *, note: str = "") -> ChecklistItem:
    row = queries.item(actor, item_id)
    _campaign_for_write(actor, row.campaign_id)
    item = ChecklistItem.objects.select_for_update().select_related("campaign__institution").get(pk=row.pk)
    note = _text(note, "note", required=False, limit=NOTE_MAX)
    if item.findings.filter(status=FindingStatus.OPEN).exists():
        raise ActionError("ITEM_HAS_OPEN_FINDINGS", _("该检查项还有未关闭的问题,不能标记为合格"), status=409)
    if item.status == ItemStatus.OK and item.note == note:
        return item
    before = audit.snapshot(item)
    item.status = ItemStatus.OK
    item.note = note
    item.checked_by_id = _user_id(actor)
    item.checked_at = timezone.now()
    item.save(update_fields=["status", "note", "checked_by", "checked_at", "updated_at"])
    audit.record(actor, "reviews.checklistitem.checked", item, before=before, reason=note)
    return item


# ---- findings ---------------------------------------------------------------------------------------


def _practitioner_here(inst: Institution, pk: int | None, field: str) -> Practitioner | None:
    if pk is None:
        return None
    person = (
        Practitioner.objects.filter(pk=pk)
        .filter(Q(main_institution_id=inst.pk) | Q(sites__institution_id=inst.pk))
        .distinct()
        .first()
    )
    if person is None:
        raise NotFoundField(field)
    return person


def _authorization_here(inst: Institution, pk: int | None, field: str) -> Authorization | None:
    if pk is None:
        return None
    auth = Authorization.objects.filter(pk=pk, institution_id=inst.pk).select_related("practitioner").first()
    if auth is None:
        raise NotFoundField(field)
    return auth


@transaction.atomic
def raise_finding(
    actor: Actor,
    campaign_id: int,
    *,
    description: str,
    severity: str = Severity.MEDIUM,
    item_id: int | None = None,
    practitioner_id: int | None = None,
    authorization_id: int | None = None,
    action: str | None = None,
    due_date: dt.date | None = None,
    today: dt.date | None = None,
) -> Finding:
    """Record a problem (optionally on a checklist item) and, if ``action`` is given, act on it at once."""
    campaign = _campaign_for_write(actor, campaign_id, field="campaign_id")
    inst = campaign.institution
    description = _text(description, "description", required=True, limit=DESCRIPTION_MAX)
    if severity not in Severity.values:
        raise FieldErrors(
            {"severity": [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(Severity.values)}]}
        )
    item: ChecklistItem | None = None
    if item_id is not None:
        item = ChecklistItem.objects.select_for_update().filter(pk=item_id, campaign=campaign).first()
        if item is None:
            raise NotFoundField("item_id")
        practitioner_id = practitioner_id if practitioner_id is not None else item.practitioner_id
        authorization_id = authorization_id if authorization_id is not None else item.authorization_id
    person = _practitioner_here(inst, practitioner_id, "practitioner_id")
    auth = _authorization_here(inst, authorization_id, "authorization_id")
    if person is None and auth is not None and auth.practitioner_id is not None:
        person = auth.practitioner
    if person is not None and auth is not None and auth.practitioner_id not in (None, person.pk):
        raise FieldErrors({"authorization_id": [_("该授权不属于所选人员")]})
    finding = Finding(
        campaign=campaign,
        item=item,
        practitioner=person,
        authorization=auth,
        severity=severity,
        description=description,
        created_by_id=_user_id(actor),
    )
    finding.save(force_insert=True)
    audit.record(actor, "reviews.finding.raised", finding, before={})
    if item is not None and item.status != ItemStatus.FINDING:
        before = audit.snapshot(item)
        item.status = ItemStatus.FINDING
        item.checked_by_id = _user_id(actor)
        item.checked_at = timezone.now()
        item.save(update_fields=["status", "checked_by", "checked_at", "updated_at"])
        audit.record(actor, "reviews.checklistitem.flagged", item, before=before, reason=description[:200])
    if action:
        _apply_action(actor, finding, action, due_date=due_date, today=today or timezone.localdate())
    return finding


@transaction.atomic
def record_action(
    actor: Actor,
    finding_id: int,
    *,
    action: str,
    due_date: dt.date | None = None,
    today: dt.date | None = None,
) -> Finding:
    """Warn, retrain or suspend. An open finding's action may be escalated, never weakened or repeated."""
    finding = _finding_for_write(actor, finding_id)
    if finding.campaign.status != CampaignStatus.OPEN:
        raise ActionError("CAMPAIGN_CLOSED", _("该审查已结束,不能再修改"), field="status", status=409)
    return _apply_action(actor, finding, action, due_date=due_date, today=today or timezone.localdate())


def _acting_for(actor: Actor, inst: Institution) -> Actor:
    """The actor for the suspension: the reviewer themself where they manage authorizations; otherwise (an
    overseeing auditor, already checked) the same user with compliance-officer rights at this one institution,
    for this one call. The audit entry still names the auditor and the finding."""
    from meiguard.authz.models import AUTHORIZATION_WRITERS

    if actor.is_unrestricted or actor.can_write_org(inst.organization_id, AUTHORIZATION_WRITERS):
        return actor
    return actor.acting_as(inst.organization_id, {Role.COMPLIANCE_OFFICER})


def _apply_action(
    actor: Actor, finding: Finding, action: str, *, due_date: dt.date | None, today: dt.date
) -> Finding:
    if action not in FindingAction.values:
        raise FieldErrors(
            {"action": [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(FindingAction.values)}]}
        )
    if finding.status != FindingStatus.OPEN:
        raise ActionError("FINDING_CLOSED", _("该问题已关闭"), field="status", status=409)
    new = FindingAction(action)
    if finding.action and ACTION_RANK[new] <= ACTION_RANK[FindingAction(finding.action)]:
        raise ActionError(
            "ACTION_NOT_ESCALATED",
            _("已采取“%(current)s”,只能升级处理措施(警示 → 再培训 → 暂停授权)")
            % {"current": finding.get_action_display()},
            field="action",
            status=409,
        )
    if due_date is not None and due_date < today:
        raise FieldErrors({"due_date": [_("整改期限不能早于今天")]})
    campaign = finding.campaign
    inst = campaign.institution
    before = audit.snapshot(finding)
    if new == FindingAction.RETRAIN and due_date is None:
        due_date = today + dt.timedelta(days=retrain_days())
    if new == FindingAction.SUSPEND:
        if finding.authorization_id is None:
            raise FieldErrors({"authorization_id": [_("暂停授权须指定要暂停的授权")]})
        reason = _("定期审查 %(period)s 问题 #%(pk)s:%(text)s") % {
            "period": campaign.period,
            "pk": finding.pk,
            "text": finding.description,
        }
        authz_actions.change_status(
            _acting_for(actor, inst), finding.authorization_id, action="suspend", reason=reason
        )
    finding.action = new
    finding.action_at = timezone.now()
    finding.action_by_id = _user_id(actor)
    if due_date is not None:
        finding.due_date = due_date
    finding.save(update_fields=["action", "action_at", "action_by", "due_date", "updated_at"])
    audit.record(
        actor, "reviews.finding.action_recorded", finding, before=before, reason=finding.get_action_display()
    )
    _notify_action(finding, new)
    return finding


def _notify_action(finding: Finding, action: FindingAction) -> None:
    campaign = finding.campaign
    inst = campaign.institution
    person = finding.practitioner
    roles = [Role.COMPLIANCE_OFFICER]
    if action == FindingAction.SUSPEND:
        roles.append(Role.INSTITUTION_ADMIN)
    recipients: list[int | None] = [
        person.user_id if person else None,
        *users_with_roles(inst.organization_id, roles),
    ]
    who = person.name if person else inst.name
    params: dict[str, Any] = {
        "who": who,
        "period": campaign.period,
        "inst": inst.name,
        "lines": [finding.description] if finding.description else [],
    }
    if action == FindingAction.WARN:
        kind, message = NotificationKind.REVIEW, "reviews.finding_warn"
    elif action == FindingAction.RETRAIN:
        kind, message = NotificationKind.REVIEW, "reviews.finding_retrain"
        params["due"] = finding.due_date.isoformat() if finding.due_date else "—"
    else:
        kind, message = NotificationKind.SUSPENSION, "reviews.finding_suspend"
        params["auth"] = finding.authorization_id or ""
    send(
        recipients,
        kind=kind,
        message=message,
        params=params,
        url=_url(campaign.pk, f"finding-{finding.pk}"),
        dedupe_key=f"reviews:finding:{finding.pk}:{action}",
    )


@transaction.atomic
def close_finding(actor: Actor, finding_id: int, *, note: str) -> Finding:
    """Close a finding with a note on how it was resolved (also after the campaign ended)."""
    finding = _finding_for_write(actor, finding_id)
    note = _text(note, "note", required=True, limit=NOTE_MAX)
    if finding.status == FindingStatus.CLOSED:
        raise ActionError("FINDING_CLOSED", _("该问题已关闭"), field="status", status=409)
    before = audit.snapshot(finding)
    finding.status = FindingStatus.CLOSED
    finding.closing_note = note
    finding.closed_at = timezone.now()
    finding.closed_by_id = _user_id(actor)
    finding.save(update_fields=["status", "closing_note", "closed_at", "closed_by", "updated_at"])
    audit.record(actor, "reviews.finding.closed", finding, before=before, reason=note)
    return finding
