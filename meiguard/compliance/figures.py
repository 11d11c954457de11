"""The figures of the monthly compliance report: one registry, one entry per figure (docs/compliance-report.md).

A figure is a code, a label, a unit (a share in per cent, or a count), an optional target (value, comparison,
the institution-policy setting that may override it, and the readable source) and a **provider**:

    provider(institution_ids: list[int], start: date, end: date) -> dict[int, dict[str, int]]

``start`` is the first and ``end`` the last day of the month (local dates, both included); a figure with
``period="range"`` gets aware local datetimes ``[start, end)`` instead (the 1st 00:00 to the next 1st 00:00). A provider answers
for every institution at once with a few bounded ``GROUP BY`` queries (never a loop over rows) and returns,
per institution id, named integers; the figure names which of them are its numerator and denominator (a share)
or its count. Institutions without rows may be missing from the answer (they count as zeros). Keys starting
with ``detail_prefix`` (e.g. ``"reason:LOT_RECALLED"``) are listed under the figure as its top details.

Several figures may share a provider (it runs once per evaluation). A provider may be given as a dotted path,
imported when first used, so an app that is not installed costs nothing until a figure asks for it. Adding a
figure is one entry in ``FIGURES`` — e.g. the incidents and complaints figures of other parts of issue 14::

    Figure("complaint_breaches", _("投诉处理超时未办结"), Unit.COUNT,
           "meiguard.complaints.figures.monthly_counts", count="breaches_open", period="range",
           target=Target(0, Comparison.EQUAL, sources=("<source id> <article>",)))
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from meiguard.core.choices import Role

from .choices import Comparison, Unit

Counts = dict[int, dict[str, int]]
Provider = Callable[[Sequence[int], dt.date, dt.date], Counts]

# Where the targets come from (rules/packs/sources.yaml ids + article): one institution's operating plan, which an
# institution adopts as its own policy (机构规范), never law.
PLAN_MONTHLY_REPORT = "operating-plan-2026 一(二)3"
PLAN_CHECKLIST = "operating-plan-2026 一(二)1"
PLAN_FOLLOW_UP = "operating-plan-2026 一(三)1"
PLAN_FOLLOW_UP_TARGETS = "operating-plan-2026 一(三)3"
PLAN_TRACE = "operating-plan-2026 二(一)2"
PLAN_STAFF = "operating-plan-2026 二(二)1"
# 《医疗机构投诉管理办法》(2019): first-contact responsibility and answer deadlines, set by each institution.
COMPLAINT_RULES = "complaint-rules"
COMPLAINTS_PROVIDER = "meiguard.complaints.figures.monthly_counts"
# 《2026年医疗美容服务年度工作计划》二: "零严重医疗事故、零重大安全事件"; the reporting deadlines of RP-01..03.
PLAN_SAFETY = "operating-plan-2026 二"
INCIDENT_REPORT_SOURCES = ("device-ae-rules", "adr-rules", "quality-event-reporting-2011")
INCIDENTS_PROVIDER = "meiguard.aftercare.incident_figures.monthly_counts"


@dataclass(frozen=True, slots=True)
class Target:
    value: int
    comparison: str  # Comparison
    sources: tuple[str, ...]  # "<source id> <article>", cited readably (rules.sources.cites)
    setting: str = ""  # an institution-policy setting (rules.institution) that overrides ``value``

    def met(self, value: int, numerator: int | None = None, denominator: int | None = None) -> bool:
        """Exact: a share compares numerator × 100 with target × denominator (no rounding)."""
        if numerator is not None and denominator:
            left, right = numerator * 100, value * denominator
        else:
            left, right = int(numerator if numerator is not None else 0), value
        if self.comparison == Comparison.AT_LEAST:
            return left >= right
        if self.comparison == Comparison.AT_MOST:
            return left <= right
        return left == right


@dataclass(frozen=True, slots=True)
class Figure:
    code: str
    label: Promise
    unit: str  # Unit
    provider: str | Provider
    numerator: str = ""  # keys in the provider's answer (a share) …
    denominator: str = ""
    count: str = ""  # … or a count
    target: Target | None = None  # None: reported, no target, never a warning
    owner_role: str = Role.MEDICAL_DIRECTOR  # who rectifies a deviation
    explain: Promise | str = ""  # what is counted, one sentence
    detail_prefix: str = ""
    details: tuple[tuple[str, Promise], ...] = field(default=())  # further counts shown with the figure
    # How the provider takes the month: "dates" (first and last day, both included) or "range" (aware local
    # datetimes [1st 00:00, 1st of the next month 00:00), e.g. ``complaints.figures.monthly_counts``).
    period: str = "dates"

    def resolve(self) -> Provider:
        if callable(self.provider):
            return self.provider
        module, _dot, name = self.provider.rpartition(".")
        fn: Provider = getattr(importlib.import_module(module), name)
        return fn


# ---- the local month as an aware range -------------------------------------------------------------


def bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, day after end 00:00) in local time."""
    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


def _rows(qs: Any, key: str, **values: Any) -> Counts:
    out: Counts = {}
    for row in qs.values(key).order_by().annotate(**values):
        out[int(row[key])] = {k: int(row[k] or 0) for k in values}
    return out


def _merge(*parts: Counts) -> Counts:
    out: Counts = defaultdict(dict)
    for part in parts:
        for inst, numbers in part.items():
            out[inst].update(numbers)
    return dict(out)


# ---- providers of this app (each a few GROUP BY queries) -----------------------------------------------


def checklist_counts(ids: Sequence[int], start: dt.date, end: dt.date) -> Counts:
    """Surgical cases whose record (the operation) opened in the month; those with all three checklist nodes
    complete. Two queries."""
    from meiguard.clinical.models import ChecklistNode, OperationRecord

    lo, hi = bounds(start, end)
    records = OperationRecord.objects.filter(
        case__institution_id__in=ids, case__invasiveness="surgical", opened_at__gte=lo, opened_at__lt=hi
    )
    complete_cases = (
        ChecklistNode.objects.filter(completed_at__isnull=False, case__institution_id__in=ids)
        .values("case_id")
        .order_by()
        .annotate(n=Count("pk"))
        .filter(n__gte=3)
        .values("case_id")
    )
    return _merge(
        _rows(records, "case__institution_id", surgical_cases=Count("pk")),
        _rows(
            records.filter(case_id__in=complete_cases), "case__institution_id", all_nodes_signed=Count("pk")
        ),
    )


def usage_counts(ids: Sequence[int], start: dt.date, end: dt.date) -> Counts:
    """Usages recorded in the month, and those entered by scanning the product's code (one query)."""
    from meiguard.clinical.models import Usage

    lo, hi = bounds(start, end)
    qs = Usage.objects.filter(institution_id__in=ids, created_at__gte=lo, created_at__lt=hi)
    return _rows(qs, "institution_id", usages=Count("pk"), scanned=Count("pk", filter=~Q(scanned_code="")))


def follow_up_counts(ids: Sequence[int], start: dt.date, end: dt.date) -> Counts:
    """Follow-up contacts due in the month: recorded; the cases (plans) they belong to and the cases of which a
    contact is lost to follow-up (one query)."""
    from meiguard.aftercare.choices import FollowUpKind, FollowUpStatus
    from meiguard.aftercare.models import FollowUp

    lo, hi = bounds(start, end)
    qs = FollowUp.objects.filter(
        institution_id__in=ids, kind=FollowUpKind.CONTACT, due_at__gte=lo, due_at__lt=hi
    )
    return _rows(
        qs,
        "institution_id",
        contacts_due=Count("pk"),
        contacts_done=Count("pk", filter=Q(status=FollowUpStatus.DONE)),
        plans=Count("case_id", distinct=True),
        plans_lost=Count("case_id", filter=Q(status=FollowUpStatus.LOST), distinct=True),
    )


def reaction_counts(ids: Sequence[int], start: dt.date, end: dt.date) -> Counts:
    """Adverse reactions reported in the month whose clock has ended (handled, or past its deadline by the end
    of the month), and those handled within their clock (one query)."""
    from meiguard.aftercare.models import AdverseReaction

    lo, hi = bounds(start, end)
    qs = AdverseReaction.objects.filter(
        institution_id__in=ids, reported_at__gte=lo, reported_at__lt=hi
    ).exclude(handled_at__isnull=True, due_at__gte=hi)
    return _rows(
        qs,
        "institution_id",
        reactions=Count("pk"),
        on_time=Count("pk", filter=Q(handled_at__isnull=False, handled_at__lte=F("due_at"))),
    )


def denial_counts(ids: Sequence[int], start: dt.date, end: dt.date) -> Counts:
    """Denied checks in the decision log in the month, and how often each reason appears (one query grouped by
    institution and reason list; a denial with two reasons counts for both)."""
    from meiguard.authz.models import DecisionLog

    lo, hi = bounds(start, end)
    qs = DecisionLog.objects.filter(
        institution_id__in=ids, outcome="deny", created_at__gte=lo, created_at__lt=hi
    )
    out: Counts = defaultdict(lambda: defaultdict(int))
    for row in qs.values("institution_id", "reason_codes").order_by().annotate(n=Count("pk")):
        numbers = out[int(row["institution_id"])]
        numbers["denied"] += row["n"]
        for code in row["reason_codes"] or []:
            numbers[f"reason:{code}"] += row["n"]
    return {k: dict(v) for k, v in out.items()}


EXPIRY_WINDOW_DAYS = 30


def credential_counts(ids: Sequence[int], start: dt.date, end: dt.date) -> Counts:
    """Qualifications (of the institution's own practitioners) and active authorizations expiring within 30 days
    after the month's last day; active authorizations already past their end date (still marked active, i.e.
    usable in a check until the expiry job runs). Three queries."""
    from meiguard.authz.choices import AuthorizationStatus
    from meiguard.authz.models import Authorization
    from meiguard.registry.models import Qualification

    window = (end + dt.timedelta(days=1), end + dt.timedelta(days=EXPIRY_WINDOW_DAYS))
    active = Authorization.objects.filter(institution_id__in=ids, status=AuthorizationStatus.ACTIVE)
    return _merge(
        _rows(
            Qualification.objects.filter(
                practitioner__main_institution_id__in=ids, valid_until__range=window
            ),
            "practitioner__main_institution_id",
            qualifications_expiring=Count("pk"),
        ),
        _rows(
            active.filter(valid_until__range=window), "institution_id", authorizations_expiring=Count("pk")
        ),
        _rows(
            active.filter(valid_until__lte=end), "institution_id", authorizations_expired_active=Count("pk")
        ),
    )


def credentials_expiring(ids: Sequence[int], start: dt.date, end: dt.date) -> Counts:
    counts = credential_counts(ids, start, end)
    for numbers in counts.values():
        numbers["expiring"] = numbers.get("qualifications_expiring", 0) + numbers.get(
            "authorizations_expiring", 0
        )
    return counts


# ---- the registry ---------------------------------------------------------------------------------

FIGURES: tuple[Figure, ...] = (
    Figure(
        "checklist_coverage",
        _("手术安全核查覆盖率"),
        Unit.PERCENT,
        checklist_counts,
        numerator="all_nodes_signed",
        denominator="surgical_cases",
        target=Target(100, Comparison.AT_LEAST, (PLAN_CHECKLIST,)),
        owner_role=Role.MEDICAL_DIRECTOR,
        explain=_("本月开始手术的手术类病例中,三个核查节点均已签署完成的比例"),
    ),
    Figure(
        "scan_before_use",
        _("扫码使用率"),
        Unit.PERCENT,
        usage_counts,
        numerator="scanned",
        denominator="usages",
        target=Target(100, Comparison.AT_LEAST, (PLAN_TRACE,)),
        owner_role=Role.COMPLIANCE_OFFICER,
        explain=_("本月登记的药品/耗材/设备使用中,通过扫码录入的比例(扫码使用,100%可追溯)"),
    ),
    Figure(
        "follow_up_completion",
        _("随访完成率"),
        Unit.PERCENT,
        follow_up_counts,
        numerator="contacts_done",
        denominator="contacts_due",
        target=Target(100, Comparison.AT_LEAST, (PLAN_FOLLOW_UP,), setting="follow_up_completion_min"),
        owner_role=Role.MEDICAL_DIRECTOR,
        explain=_("本月应随访的术后随访中,已记录随访结果的比例"),
    ),
    Figure(
        "loss_to_follow_up",
        _("失访率"),
        Unit.PERCENT,
        follow_up_counts,
        numerator="plans_lost",
        denominator="plans",
        target=Target(5, Comparison.AT_MOST, (PLAN_FOLLOW_UP_TARGETS,), setting="loss_to_follow_up_max"),
        owner_role=Role.MEDICAL_DIRECTOR,
        explain=_("本月有应随访节点的随访计划(病例)中,出现失访的比例"),
    ),
    Figure(
        "reactions_on_time",
        _("不良反应处置及时率"),
        Unit.PERCENT,
        reaction_counts,
        numerator="on_time",
        denominator="reactions",
        target=Target(98, Comparison.AT_LEAST, (PLAN_FOLLOW_UP_TARGETS,), setting="reactions_on_time_min"),
        owner_role=Role.MEDICAL_DIRECTOR,
        explain=_("本月报告且处置时限已到或已处置的不良反应中,在分级时限内完成处置的比例"),
    ),
    Figure(
        "denied_checks",
        _("核验拒绝次数"),
        Unit.COUNT,
        denial_counts,
        count="denied",
        target=None,
        explain=_("本月准入核验被拒绝的次数及主要原因(核验拦截的是违规操作,仅作统计)"),
        detail_prefix="reason:",
    ),
    Figure(
        "credentials_expiring",
        _("30天内到期的资质与授权"),
        Unit.COUNT,
        credentials_expiring,
        count="expiring",
        target=None,
        explain=_("月末起30天内到期的执业人员资质证书与生效中的授权数量(仅作统计,请及时续期)"),
        details=(
            ("qualifications_expiring", _("资质证书")),
            ("authorizations_expiring", _("授权")),
        ),
    ),
    Figure(
        "authorizations_expired_active",
        _("已过期仍为生效状态的授权"),
        Unit.COUNT,
        credential_counts,
        count="authorizations_expired_active",
        target=Target(0, Comparison.EQUAL, (PLAN_STAFF,)),
        owner_role=Role.COMPLIANCE_OFFICER,
        explain=_("截止日期已过、但状态仍为生效的授权数量(应为0)"),
    ),
    # Complaints (issue 14 part 4): the institution's own SLAs (complaints.policy), RP-05 leaving them open.
    Figure(
        "complaints_received",
        _("本月收到的投诉"),
        Unit.COUNT,
        COMPLAINTS_PROVIDER,
        count="complaints",
        target=None,
        period="range",
        explain=_("本月受理的投诉数量(仅作统计),其中提交行业协会的另列"),
        details=(("escalated", _("提交行业协会")),),
    ),
    Figure(
        "complaints_ack_on_time",
        _("投诉按时回应率"),
        Unit.PERCENT,
        COMPLAINTS_PROVIDER,
        numerator="ack_on_time",
        denominator="ack_due",
        target=Target(100, Comparison.AT_LEAST, (COMPLAINT_RULES,)),
        owner_role=Role.MEDICAL_DIRECTOR,
        period="range",
        explain=_("回应时限在本月到期的投诉中,在本机构设定的回应时限内回应的比例"),
    ),
    Figure(
        "complaints_resolved_on_time",
        _("投诉按时办结率"),
        Unit.PERCENT,
        COMPLAINTS_PROVIDER,
        numerator="resolution_on_time",
        denominator="resolution_due",
        target=Target(100, Comparison.AT_LEAST, (COMPLAINT_RULES,)),
        owner_role=Role.MEDICAL_DIRECTOR,
        period="range",
        explain=_("处理时限在本月到期的投诉中,在本机构设定的处理时限(工作日)内办结的比例"),
    ),
    Figure(
        "complaints_breaches_open",
        _("月末仍超时未办的投诉"),
        Unit.COUNT,
        COMPLAINTS_PROVIDER,
        count="breaches_open",
        target=Target(0, Comparison.EQUAL, (COMPLAINT_RULES,)),
        owner_role=Role.MEDICAL_DIRECTOR,
        period="range",
        explain=_("月末时已超过回应或处理时限、仍未完成的投诉数量(应为0)"),
    ),
    # Incidents and regulatory reports (issue 14 part 3, aftercare/incident_policy.py).
    Figure(
        "serious_incidents",
        _("严重不良事件(I、II级)"),
        Unit.COUNT,
        INCIDENTS_PROVIDER,
        count="serious_incidents",
        target=Target(0, Comparison.EQUAL, (PLAN_SAFETY,)),
        owner_role=Role.MEDICAL_DIRECTOR,
        period="range",
        explain=_("本月发现的I级(警讯)和II级(不良后果)事件数量;本月登记的全部事件(含隐患)另列"),
        details=(("incidents", _("本月登记的全部事件")),),
    ),
    Figure(
        "incident_reports_on_time",
        _("不良事件按时上报率"),
        Unit.PERCENT,
        INCIDENTS_PROVIDER,
        numerator="reports_on_time",
        denominator="reports_due",
        target=Target(100, Comparison.AT_LEAST, INCIDENT_REPORT_SOURCES),
        owner_role=Role.MEDICAL_DIRECTOR,
        period="range",
        explain=_(
            "上报时限在本月到期的监管报告(器械不良事件、药品不良反应、医疗质量安全事件)中,按时限提交的比例"
        ),
    ),
    Figure(
        "incident_reports_overdue",
        _("月末逾期未报的监管报告"),
        Unit.COUNT,
        INCIDENTS_PROVIDER,
        count="reports_overdue_open",
        target=Target(0, Comparison.EQUAL, INCIDENT_REPORT_SOURCES),
        owner_role=Role.MEDICAL_DIRECTOR,
        period="range",
        explain=_("月末时已过上报时限、仍未提交的监管报告数量(应为0)"),
    ),
)
FIGURES_BY_CODE: dict[str, Figure] = {f.code: f for f in FIGURES}


def evaluate_counts(
    figures: Sequence[Figure], ids: Sequence[int], start: dt.date, end: dt.date
) -> dict[Any, Counts]:
    """Run every distinct provider of ``figures`` once: {(provider, period): counts}."""
    answers: dict[Any, Counts] = {}
    for figure in figures:
        key = (figure.provider, figure.period)
        if key not in answers:
            if not ids:
                answers[key] = {}
            elif figure.period == "range":
                lo, hi = bounds(start, end)
                answers[key] = figure.resolve()(list(ids), lo, hi)  # type: ignore[arg-type]
            else:
                answers[key] = figure.resolve()(list(ids), start, end)
    return answers
