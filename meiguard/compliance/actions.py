"""Every write of the compliance-report app: generate reports (scheduled or on demand), close rectifications.

Each is atomic and audited. Generating never changes a stored report: a month generated again gets the next
version. A figure off target raises one rectification item per institution, month and figure, due
``rectification_days`` (institution policy, default 30) after the report date, owned by the figure's role, and
its owners (that role at the institution, else its admins) are told once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.core.errors import ActionError
from meiguard.core.models import Membership
from meiguard.notify import services as notify
from meiguard.notify.models import NotificationKind
from meiguard.registry.models import Institution

from . import permissions, policy, queries
from .choices import FigureStatus, RectificationStatus, Trigger
from .models import MonthlyReport, Rectification

NOTE_MAX = 2000
MAX_MONTHS_BACK = 24
CHUNK = 500


def _owners(org_ids: Sequence[int]) -> dict[int, dict[str, list[int]]]:
    """Active users per organisation and role (one query)."""
    out: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for org, role, user in Membership.objects.filter(
        organization_id__in=sorted(set(org_ids)), is_active=True, user__is_active=True
    ).values_list("organization_id", "role", "user_id"):
        out[org][role].append(user)
    return out


def generate_for(
    actor: Actor, institutions: Sequence[Institution], month: dt.date, *, trigger: str, at: dt.datetime
) -> list[MonthlyReport]:
    """Reports for ``institutions`` and ``month`` (a new version each), their rectification items and notices.
    A fixed number of queries per chunk plus one audit entry per report and per item raised."""
    if not institutions:
        return []
    ids = [i.pk for i in institutions]
    rows, own = policy.evaluate(ids, month)
    last = dict(
        MonthlyReport.objects.filter(institution_id__in=ids, month=month)
        .values("institution_id")
        .order_by()
        .annotate(v=Max("version"))
        .values_list("institution_id", "v")
    )
    fresh = [
        MonthlyReport(
            institution=inst,
            month=month,
            version=(last.get(inst.pk) or 0) + 1,
            trigger=trigger,
            generated_at=at,
            generated_by_id=actor.user_id,
            figures=rows[inst.pk],
        )
        for inst in institutions
    ]
    try:
        with transaction.atomic():  # a savepoint: a concurrent generator took the same version first
            reports = MonthlyReport.objects.bulk_create(fresh)
    except IntegrityError:
        raise ActionError(
            "REPORT_BEING_GENERATED", _("该月报告正在生成,请稍后刷新"), field="month", status=409
        ) from None
    if any(r.pk is None for r in reports):  # backends without RETURNING: read the ids back
        found = {
            r.institution_id: r
            for r in MonthlyReport.objects.filter(institution_id__in=ids, month=month, generated_at=at)
        }
        reports = [found[i.pk] for i in institutions]
    existing = set(
        Rectification.objects.filter(institution_id__in=ids, month=month).values_list(
            "institution_id", "figure_code"
        )
    )
    source, _source_en = policy.rectification_source()
    today = timezone.localdate(at)
    raised: list[Rectification] = []
    with translation.override("zh-hans"):
        for report in reports:
            audit.record(
                actor,
                "compliance.monthlyreport.generated",
                report,
                after={
                    "month": report.period,
                    "version": report.version,
                    "off_target": len(report.off_target),
                },
            )
            days = policy.rectification_days(own.get(report.institution_id, {}))
            for row in report.figures:
                if (
                    row["status"] != FigureStatus.OFF_TARGET
                    or (report.institution_id, row["code"]) in existing
                ):
                    continue
                target_source = (row.get("target") or {}).get("source", "")
                raised.append(
                    Rectification(
                        institution_id=report.institution_id,
                        report=report,
                        month=month,
                        figure_code=row["code"],
                        warning=policy.warning_for(row)[:2000],
                        owner_role=row["owner_role"],
                        due_on=today + dt.timedelta(days=days),
                        source=f"{source};{target_source}"[:255] if target_source else source[:255],
                    )
                )
    if raised:
        Rectification.objects.bulk_create(raised)
        raised = list(
            Rectification.objects.filter(
                institution_id__in=ids,
                month=month,
                figure_code__in={r.figure_code for r in raised},
                report__in=reports,
            ).select_related("institution")
        )
        by_inst = {i.pk: i for i in institutions}
        roles = _owners([i.organization_id for i in institutions])
        messages = []
        for item in raised:
            audit.record(actor, "compliance.rectification.raised", item, reason=item.warning)
            org_roles = roles.get(by_inst[item.institution_id].organization_id, {})
            people = org_roles.get(item.owner_role) or org_roles.get(Role.INSTITUTION_ADMIN, [])
            if people:
                messages.append(
                    notify.Message(
                        recipients=tuple(sorted(set(people))),
                        kind=NotificationKind.REVIEW,
                        message="compliance.rectification_raised",
                        params={
                            "institution": by_inst[item.institution_id].name,
                            "month": f"{month:%Y-%m}",
                            "warning": item.warning,
                            "due": item.due_on.isoformat(),
                            "source": item.source,
                        },
                        url=reverse("compliance:report", args=[item.report_id]),
                        dedupe_key=f"compliance:rect:{item.pk}",
                    )
                )
        if messages:
            notify.send_many(messages)
    return reports


def _month(value: dt.date, at: dt.datetime) -> dt.date:
    month = policy.month_start(value)
    this_month = policy.month_start(timezone.localdate(at))
    if month >= this_month:
        raise ActionError("MONTH_NOT_OVER", _("只能为已结束的月份生成报告"), field="month", status=422)
    if month < policy.add_months(this_month, -MAX_MONTHS_BACK):
        raise ActionError("MONTH_TOO_OLD", _("只能生成最近24个月的报告"), field="month", status=422)
    return month


@transaction.atomic
def generate_report(
    actor: Actor, institution_id: int, month: dt.date, *, at: dt.datetime | None = None
) -> MonthlyReport:
    """Generate (again) the report of one institution for a finished month: a new version, the old kept."""
    at = at or timezone.now()
    inst = queries.institution(actor, institution_id)
    if not permissions.can_write(actor, inst):
        raise ActionError(
            "FORBIDDEN", _("只有本机构的机构管理员、授权专员或医务科可以生成报告和关闭整改事项"), status=403
        )
    month = _month(month, at)
    # Serialise versions of one institution-month: lock the institution row.
    Institution.objects.select_for_update().filter(pk=inst.pk).first()
    return generate_for(actor, [inst], month, trigger=Trigger.ON_DEMAND, at=at)[0]


def generate_monthly(on: dt.date, *, at: dt.datetime | None = None) -> dict[str, int]:
    """The scheduled job: on the 1st, the previous month's report for every institution that has none yet (once
    per institution-month: a rerun finds them and adds nothing). Other days: nothing."""
    if on.day != 1:
        return {"not_first_of_month": 1}
    at = at or timezone.now()
    month = policy.previous_month(on)
    actor = Actor.system("monthly_compliance_report")
    done = set(MonthlyReport.objects.filter(month=month).values_list("institution_id", flat=True))
    todo = list(Institution.objects.exclude(pk__in=done).order_by("pk"))
    created = 0
    for i in range(0, len(todo), CHUNK):
        with transaction.atomic():
            created += len(generate_for(actor, todo[i : i + CHUNK], month, trigger=Trigger.SCHEDULED, at=at))
    return {"reports": created, "already_generated": len(done)}


@transaction.atomic
def close_rectification(actor: Actor, rectification_id: int, *, note: str) -> Rectification:
    """Close an item with a note on what was done (also after its deadline)."""
    item = queries.rectification_for_update(actor, rectification_id)
    if not permissions.can_write(actor, item.institution):
        raise ActionError(
            "FORBIDDEN", _("只有本机构的机构管理员、授权专员或医务科可以生成报告和关闭整改事项"), status=403
        )
    note = (note or "").strip()
    if not note:
        raise ActionError("NOTE_REQUIRED", _("请填写整改说明"), field="note", status=422)
    if len(note) > NOTE_MAX:
        raise ActionError("NOTE_TOO_LONG", _("整改说明不能超过2000字"), field="note", status=422)
    if item.status == RectificationStatus.CLOSED:
        raise ActionError("ALREADY_CLOSED", _("该整改事项已关闭"), field="status", status=409)
    before = audit.snapshot(item)
    item.status = RectificationStatus.CLOSED
    item.closing_note = note
    item.closed_at = timezone.now()
    item.closed_by_id = actor.user_id
    item.save(update_fields=["status", "closing_note", "closed_at", "closed_by", "updated_at"])
    audit.record(actor, "compliance.rectification.closed", item, before=before, reason=note)
    return item
