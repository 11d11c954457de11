"""Every read of the staff workspace: the data behind each dashboard panel, tenant-scoped.

The panels read other apps' public queries (``lifecycle.queries.expiring``, ``workflow.queries.pending_for``,
``reviews.queries.open_findings_by_institution`` / ``overdue_reviews``, ``authz.queries.capabilities``) and
the decision log. Those imports happen inside the functions so this module imports even where an app is
missing; a missing source makes its panel say so (``SourceUnavailable``) instead of failing the page.

A ``Board`` is one actor's dashboard at one moment. It memoises what several panels share (the actor's
practitioner record, the year of expiring items), so the whole page costs a few queries per panel.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.rules.sources import cites, source_text

from . import charts

CHINA_TZ = ZoneInfo("Asia/Shanghai")
BUCKETS: tuple[int, ...] = (7, 30, 60, 90)
CME_METRIC = "cme_credits_per_year"
CME_DEFAULT_TOTAL = Decimal(25)
# PR-08 [S06]: of the 25 credits a year, Class I 5–10 and Class II 15–20; neither class substitutes for the
# other. The rule pack carries the total (``cme_credits_per_year``) and states the split in a note only, so
# the split is kept here, cited to the same rule.
CME_CLASS_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "class_i": (Decimal(5), Decimal(10)),
    "class_ii": (Decimal(15), Decimal(20)),
}
PANEL_LIST_LIMIT = 8
DOCTOR_PROFESSIONS = frozenset({"doctor", "anesthetist"})


class SourceUnavailable(Exception):
    """A data source (another app's query) is not installed here: the panel says so instead of failing."""


def _url(name: str, *args: Any, query: str = "") -> str:
    try:
        base = reverse(name, args=args)
    except NoReverseMatch:
        return ""
    return f"{base}?{query}" if query else base


def start_of(day: dt.date) -> dt.datetime:
    """Midnight in China at the start of ``day`` (validity dates are China calendar days)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=CHINA_TZ)


def bucket_label(bucket: int) -> str:
    lower = {7: 0, 30: 8, 60: 31, 90: 61}.get(bucket)
    if lower == 0:
        return _("%(n)s 天内") % {"n": bucket}
    return _("%(a)s–%(b)s 天") % {"a": lower, "b": bucket}


# ---- the board ----------------------------------------------------------------------------------------------


@dataclass
class Board:
    """One actor's dashboard at one moment; memoises what several panels share."""

    actor: Actor
    now: dt.datetime
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def on(self) -> dt.date:
        return timezone.localdate(self.now)

    @cached_property
    def practitioner(self) -> Any:
        """The signed-in person's own practitioner record (``Practitioner.user``), if it is visible to them."""
        from meiguard.registry.models import Practitioner

        if self.actor.user_id is None:
            return None
        return (
            Practitioner.objects.visible_to(self.actor)
            .select_related("main_institution")
            .filter(user_id=self.actor.user_id)
            .first()
        )

    @cached_property
    def expiring_year(self) -> list[Any]:
        """Everything visible that expires within a year (the 90-day panel and the monthly chart share it)."""
        try:
            from meiguard.lifecycle.queries import expiring
        except ImportError as exc:
            raise SourceUnavailable("lifecycle") from exc
        return expiring(self.actor, on=self.on, within_days=365)


# ---- expiries -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BucketCount:
    bucket: int
    label: str
    count: int

    @property
    def short(self) -> str:
        """The column header: "≤7", "8–30", … (the full label is read to screen readers)."""
        lower = {7: 0, 30: 8, 60: 31, 90: 61}.get(self.bucket, 0)
        return f"≤{self.bucket}" if lower == 0 else f"{lower}–{self.bucket}"


@dataclass(frozen=True, slots=True)
class KindRow:
    kind: str
    label: str
    counts: tuple[int, ...]  # per bucket, in BUCKETS order
    total: int


@dataclass(frozen=True, slots=True)
class Expiries:
    on: dt.date
    within_days: int
    total: int
    buckets: tuple[BucketCount, ...]
    kinds: tuple[KindRow, ...]
    soonest: tuple[Any, ...]  # ExpiringItem, soonest first
    list_url: str


def summarize_expiries(
    items: Sequence[Any], on: dt.date, *, within_days: int = 90, list_url: str = ""
) -> Expiries:
    """Counts per bucket (7/30/60/90 days) and per kind of item, and the soonest few."""
    near = [i for i in items if 0 <= i.days_left <= within_days]
    per_bucket = Counter(i.bucket for i in near)
    per_kind: dict[str, Counter[int]] = {}
    labels: dict[str, str] = {}
    for i in near:
        per_kind.setdefault(i.kind, Counter())[i.bucket] += 1
        labels[i.kind] = i.kind_label
    kinds = tuple(
        KindRow(kind, labels[kind], tuple(c[b] for b in BUCKETS), sum(c.values()))
        for kind, c in sorted(per_kind.items(), key=lambda kv: (-sum(kv[1].values()), labels[kv[0]]))
    )
    return Expiries(
        on=on,
        within_days=within_days,
        total=len(near),
        buckets=tuple(BucketCount(b, bucket_label(b), per_bucket[b]) for b in BUCKETS),
        kinds=kinds,
        soonest=tuple(near[:PANEL_LIST_LIMIT]),
        list_url=list_url,
    )


def expiries(board: Board) -> Expiries:
    return summarize_expiries(board.expiring_year, board.on, list_url=_url("lifecycle:index"))


def my_expiries(board: Board) -> Expiries | None:
    """The signed-in practitioner's own expiring credentials, registrations and authorizations (90 days)."""
    person = board.practitioner
    if person is None:
        return None
    try:
        from meiguard.lifecycle.queries import expiring
    except ImportError as exc:
        raise SourceUnavailable("lifecycle") from exc
    items = expiring(board.actor, on=board.on, within_days=90, practitioner_id=person.pk)
    return summarize_expiries(items, board.on)


@dataclass(frozen=True, slots=True)
class MonthCount:
    month: dt.date  # the first day of the month
    count: int


def month_starts(on: dt.date, months: int = 12) -> list[dt.date]:
    first = on.replace(day=1)
    out = []
    for _i in range(months):
        out.append(first)
        first = (first + dt.timedelta(days=32)).replace(day=1)
    return out


def expiries_per_month(items: Sequence[Any], on: dt.date, months: int = 12) -> list[MonthCount]:
    """Items expiring in each of the next ``months`` calendar months (this month first, from ``on``)."""
    starts = month_starts(on, months)
    counts = Counter(i.expires_on.replace(day=1) for i in items if i.expires_on >= on)
    return [MonthCount(m, counts[m]) for m in starts]


@dataclass(frozen=True, slots=True)
class ChartPanel:
    points: tuple[Any, ...]  # MonthCount / WeekCount
    chart: charts.Chart


def expiry_chart(board: Board) -> ChartPanel:
    points = expiries_per_month(board.expiring_year, board.on)
    title = str(PANELS["expiry_chart"].title)
    return ChartPanel(tuple(points), charts.expiry_month_chart([(p.month, p.count) for p in points], title))


# ---- approvals ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingItem:
    application_id: int
    stage: str
    title: str
    practitioner: str
    institution: str
    opened_at: dt.datetime | None
    url: str


@dataclass(frozen=True, slots=True)
class Approvals:
    count: int
    items: tuple[PendingItem, ...]
    list_url: str


def approvals(board: Board) -> Approvals:
    """Open approval steps this actor may act on now (``workflow.queries.pending_for``)."""
    try:
        from meiguard.workflow.queries import pending_for
    except ImportError as exc:
        raise SourceUnavailable("workflow") from exc
    qs = pending_for(board.actor)
    count = qs.count()
    items = []
    for step in qs[:PANEL_LIST_LIMIT] if count else ():
        app = step.application
        items.append(
            PendingItem(
                application_id=app.pk,
                stage=str(step.get_stage_display()),
                title=str(app),
                practitioner=app.practitioner.name if app.practitioner is not None else "",
                institution=app.institution.name,
                opened_at=step.opened_at,
                url=_url("workflow:detail", app.pk) or f"/applications/{app.pk}/",
            )
        )
    return Approvals(count, tuple(items), _url("workflow:inbox") or "/applications/")


# ---- decisions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Denied:
    count: int
    since: dt.date
    items: tuple[Any, ...]  # DecisionLog rows, newest first
    list_url: str


def denied_this_week(board: Board, *, days: int = 7) -> Denied:
    """Denied checks with ``at`` in the last ``days`` China calendar days (today included)."""
    from meiguard.authz.models import DecisionLog
    from meiguard.authz.policy import Outcome

    since = board.on - dt.timedelta(days=days - 1)
    qs = (
        DecisionLog.objects.visible_to(board.actor)
        .filter(
            outcome=Outcome.DENY, at__gte=start_of(since), at__lt=start_of(board.on + dt.timedelta(days=1))
        )
        .select_related("institution", "practitioner")
        .defer("request", "reasons")
        .order_by("-at", "-pk")
    )
    count = qs.count()
    items = tuple(qs[:PANEL_LIST_LIMIT]) if count else ()
    query = f"outcome={Outcome.DENY}&since={since.isoformat()}&until={board.on.isoformat()}"
    return Denied(count, since, items, _url("authz:decision_list", query=query))


@dataclass(frozen=True, slots=True)
class WeekCount:
    week: dt.date  # Monday
    allowed: int  # allow and allow-with-warnings
    denied: int

    @property
    def total(self) -> int:
        return self.allowed + self.denied


def decisions_per_week(actor: Actor, on: dt.date, weeks: int = 12) -> list[WeekCount]:
    """Allowed and denied checks per ISO week (Monday, China time) for the ``weeks`` weeks up to ``on``'s.

    One aggregate query (``TruncWeek``); weeks without checks are zeros.
    """
    from meiguard.authz.models import DecisionLog
    from meiguard.authz.policy import Outcome

    monday = on - dt.timedelta(days=on.weekday())
    first = monday - dt.timedelta(weeks=weeks - 1)
    end = monday + dt.timedelta(weeks=1)
    rows = (
        DecisionLog.objects.visible_to(actor)
        .filter(at__gte=start_of(first), at__lt=start_of(end))
        .annotate(week=TruncWeek("at", tzinfo=CHINA_TZ))
        .values("week")
        .annotate(
            denied=Count("pk", filter=Q(outcome=Outcome.DENY)),
            allowed=Count("pk", filter=~Q(outcome=Outcome.DENY)),
        )
        .order_by("week")
    )
    found: dict[dt.date, tuple[int, int]] = {}
    for row in rows:
        week = row["week"]
        day = week.astimezone(CHINA_TZ).date() if isinstance(week, dt.datetime) else week
        found[day] = (int(row["allowed"]), int(row["denied"]))
    return [
        WeekCount(w, *found.get(w, (0, 0))) for w in (first + dt.timedelta(weeks=i) for i in range(weeks))
    ]


def decision_chart(board: Board) -> ChartPanel:
    points = decisions_per_week(board.actor, board.on)
    title = str(PANELS["decision_chart"].title)
    return ChartPanel(
        tuple(points), charts.decision_week_chart([(p.week, p.allowed, p.denied) for p in points], title)
    )


# ---- reviews ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverdueReview:
    campaign: Any
    days_overdue: int
    url: str


@dataclass(frozen=True, slots=True)
class Reviews:
    count: int
    items: tuple[OverdueReview, ...]
    list_url: str


def overdue_reviews(board: Board) -> Reviews:
    try:
        from meiguard.reviews.queries import overdue_reviews as source
    except ImportError as exc:
        raise SourceUnavailable("reviews") from exc
    qs = source(board.actor, board.on)
    count = qs.count()
    items = tuple(
        OverdueReview(
            c, (board.on - c.ends_on).days, _url("reviews:campaign_detail", c.pk) or f"/reviews/{c.pk}/"
        )
        for c in (qs[:PANEL_LIST_LIMIT] if count else ())
    )
    return Reviews(count, items, _url("reviews:campaign_list") or "/reviews/")


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device: Any
    state: Any  # equipment UpkeepState (overdue / out of service)
    due: dt.date | None  # the earliest missed due date, for overdue devices
    url: str


@dataclass(frozen=True, slots=True)
class Devices:
    count: int
    items: tuple[DeviceRow, ...]
    list_url: str


def overdue_devices(board: Board) -> Devices:
    """In-service devices past an inspection or calibration due date, and devices taken out of service (the
    engine refuses both), from the device file."""
    try:
        from meiguard.equipment import queries as equipment
        from meiguard.equipment.choices import UpkeepState
    except ImportError as exc:
        raise SourceUnavailable("equipment") from exc
    qs = equipment.overdue(board.actor, board.on).order_by("institution_id", "pk")
    count = qs.count()
    items = []
    for d in qs[:PANEL_LIST_LIMIT] if count else ():
        dues = [x for x in (d.next_inspection_due, d.next_calibration_due) if x is not None and x < board.on]
        url = _url("equipment:device", d.pk) or f"/equipment/devices/{d.pk}/"
        items.append(
            DeviceRow(d, UpkeepState(equipment.upkeep_state(d, board.on)), min(dues, default=None), url)
        )
    return Devices(count, tuple(items), _url("equipment:devices") or "/equipment/")


@dataclass(frozen=True, slots=True)
class MemberRow:
    institution: Any
    open_findings: int
    last_campaign: Any  # Campaign | None
    url: str


def members(board: Board) -> list[MemberRow]:
    """Institutions the auditor oversees, each with its open findings and latest review campaign."""
    try:
        from meiguard.reviews.models import Campaign
        from meiguard.reviews.queries import open_findings_by_institution
    except ImportError as exc:
        raise SourceUnavailable("reviews") from exc
    overseen = board.actor.overseen_org_ids
    pairs = [
        (inst, n)
        for inst, n in open_findings_by_institution(board.actor)
        if board.actor.is_unrestricted or inst.organization_id in overseen
    ]
    if not pairs:
        return []
    latest: dict[int, Any] = {}
    campaigns = (
        Campaign.objects.visible_to(board.actor)
        .filter(institution_id__in=[inst.pk for inst, _n in pairs])
        .order_by("institution_id", "-ends_on", "-pk")
        .only("pk", "institution_id", "kind", "period", "starts_on", "ends_on", "status")
    )
    for c in campaigns:
        latest.setdefault(c.institution_id, c)
    return [
        MemberRow(inst, n, latest.get(inst.pk), _url("registry:institution_detail", inst.pk))
        for inst, n in pairs
    ]


# ---- the practitioner's own view ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MyPractice:
    practitioner: Any
    caps: Any  # authz.queries.Capabilities
    url: str


def my_capabilities(board: Board) -> MyPractice | None:
    """What the signed-in practitioner may do today, and where (``authz.queries.capabilities``)."""
    from meiguard.authz.queries import capabilities

    person = board.practitioner
    if person is None:
        return None
    caps = capabilities(board.actor, person.pk, board.on)
    return MyPractice(person, caps, _url("authz:practitioner_capabilities", person.pk))


@dataclass(frozen=True, slots=True)
class CreditClass:
    key: str
    label: str
    earned: Decimal  # every non-rejected credit of the class this year
    unverified: Decimal  # of which not yet verified
    minimum: Decimal
    maximum: Decimal
    counted: Decimal  # what counts toward the total: at most ``maximum``

    @property
    def met(self) -> bool:
        return self.earned >= self.minimum

    @property
    def missing(self) -> Decimal:
        return max(self.minimum - self.earned, Decimal(0))


@dataclass(frozen=True, slots=True)
class Cme:
    year: int
    required: Decimal
    classes: tuple[CreditClass, ...]
    rule_id: str
    rule_source: str
    rule_label: str  # "cn-national v1 PR-08.cme-credits (PR-08 [S06])", or "" without a pack
    list_url: str

    @property
    def counted(self) -> Decimal:
        return sum((c.counted for c in self.classes), Decimal(0))

    @property
    def earned(self) -> Decimal:
        return sum((c.earned for c in self.classes), Decimal(0))

    @property
    def met(self) -> bool:
        return self.counted >= self.required and all(c.met for c in self.classes)

    @property
    def missing(self) -> Decimal:
        return max(self.required - self.counted, Decimal(0))

    @property
    def percent(self) -> int:
        if not self.required:
            return 100
        return min(100, int(self.counted * 100 / self.required))


def _credits(value: Any) -> Decimal:
    """Credits as stored (one decimal place), whatever the database's SUM returns."""
    return Decimal(value or 0).quantize(Decimal("0.1"))


def cme_progress(actor: Actor, practitioner: Any, on: dt.date) -> Cme:
    """This year's CME credits against the rule pack's yearly requirement (PR-08): per class and in total.

    Rejected credits do not count; unverified ones do (and are shown as such). A class counts toward the total
    up to its maximum, so the total is met only with both classes in range.
    """
    from meiguard.registry.choices import CreditClass as Classes
    from meiguard.registry.choices import QualificationKind, VerificationStatus
    from meiguard.registry.models import Qualification

    rows = (
        Qualification.objects.visible_to(actor)
        .filter(practitioner_id=practitioner.pk, kind=QualificationKind.CME_CREDITS, year=on.year)
        .exclude(verification_status=VerificationStatus.REJECTED)
        .values("credit_class")
        .annotate(
            earned=Sum("credits"),
            unverified=Sum("credits", filter=~Q(verification_status=VerificationStatus.VERIFIED)),
        )
        .order_by("credit_class")
    )
    sums = {r["credit_class"]: (_credits(r["earned"]), _credits(r["unverified"])) for r in rows}
    required, rule_id, source, label = (
        _credits(CME_DEFAULT_TOTAL),
        "PR-08.cme-credits",
        source_text(cites("cme-rules-2006")),
        "",
    )
    try:
        from meiguard.rules.services import resolve

        requirement = resolve(
            practitioner.main_institution.province, on, practitioner.main_institution_id
        ).requirement(CME_METRIC)
    except Exception:  # no pack in force (NoActivePack) or rules unavailable: the regulation's own figure
        requirement = None
    if requirement is not None:
        required = _credits(Decimal(str(requirement.value)))
        rule_id, source, label = requirement.rule_id, requirement.rule.source, str(requirement.rule)
    classes = []
    for key, text in Classes.choices:
        low, high = CME_CLASS_RANGES[key]
        earned, unverified = sums.get(key, (_credits(0), _credits(0)))
        classes.append(
            CreditClass(
                key, str(text), earned, unverified, _credits(low), _credits(high), min(earned, _credits(high))
            )
        )
    url = _url("registry:practitioner_detail", practitioner.pk)
    return Cme(on.year, required, tuple(classes), rule_id, source, label, url)


def cme(board: Board) -> Cme | None:
    person = board.practitioner
    if person is None or person.profession not in DOCTOR_PROFESSIONS:
        return None
    return cme_progress(board.actor, person, board.on)


# ---- which panels for whom ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PanelSpec:
    key: str
    title: str | Promise
    build: Callable[[Board], Any]


def my_aftercare(board: Board) -> Any:
    """My overdue and today's follow-ups and the reactions I am responsible for (three queries)."""
    from meiguard.aftercare.queries import my_work

    return my_work(board.actor, board.now, limit=10)


# In the order they appear on the page: the person's own work first, then what waits for them, then overviews.
PANELS: dict[str, PanelSpec] = {
    p.key: p
    for p in (
        PanelSpec("capabilities", gettext_lazy("我可以在哪里开展哪些项目"), my_capabilities),
        PanelSpec("my_expiries", gettext_lazy("我即将到期的资质与授权"), my_expiries),
        PanelSpec("cme", gettext_lazy("我的继续医学教育学分"), cme),
        PanelSpec("aftercare", gettext_lazy("我的随访与不良反应"), my_aftercare),
        PanelSpec("approvals", gettext_lazy("待我审批"), approvals),
        PanelSpec("members", gettext_lazy("监督的机构"), members),
        PanelSpec("expiries", gettext_lazy("即将到期(90天内)"), expiries),
        PanelSpec("denied", gettext_lazy("近7天被拒绝的核验"), denied_this_week),
        PanelSpec("reviews", gettext_lazy("逾期未完成的审查"), overdue_reviews),
        PanelSpec("devices", gettext_lazy("逾期或停用的设备"), overdue_devices),
        PanelSpec("expiry_chart", gettext_lazy("未来12个月每月到期数"), expiry_chart),
        PanelSpec("decision_chart", gettext_lazy("近12周每周核验结论"), decision_chart),
    )
}
WIDE_PANELS = frozenset({"expiry_chart", "decision_chart", "capabilities"})
MANAGER = ("approvals", "expiries", "denied", "reviews", "devices", "expiry_chart", "decision_chart")
PANELS_BY_ROLE: dict[str, tuple[str, ...]] = {
    Role.COMPLIANCE_OFFICER: MANAGER,
    Role.INSTITUTION_ADMIN: MANAGER,
    Role.MEDICAL_DIRECTOR: ("approvals", "denied", "expiries", "expiry_chart", "decision_chart"),
    Role.DOCTOR: ("capabilities", "aftercare", "my_expiries", "cme"),
    Role.NURSE: ("capabilities", "aftercare", "my_expiries"),
    Role.AUDITOR: ("members", "reviews", "decision_chart"),
    Role.PROCUREMENT: ("expiries", "devices", "expiry_chart"),
    Role.SUPPLIER_ADMIN: ("expiries",),
    Role.PLATFORM_ADMIN: MANAGER,
}


def panel_keys(actor: Actor) -> list[str]:
    """The panels for the actor's roles (several roles: several panels), in page order, each once."""
    wanted: set[str] = set()
    for role in actor.roles():
        wanted.update(PANELS_BY_ROLE.get(role, ()))
    if actor.is_platform_admin:
        wanted.update(PANELS_BY_ROLE[Role.PLATFORM_ADMIN])
    return [key for key in PANELS if key in wanted]


@dataclass(frozen=True, slots=True)
class Panel:
    key: str
    title: str
    data: Any
    unavailable: str = ""  # which source is missing, if any

    @property
    def template(self) -> str:
        return f"workspace/panels/_{self.key}.html"

    @property
    def wide(self) -> bool:
        return self.key in WIDE_PANELS


def build_panel(board: Board, key: str) -> Panel:
    spec = PANELS[key]
    try:
        data = spec.build(board)
    except SourceUnavailable as exc:
        return Panel(key, str(spec.title), None, unavailable=str(exc))
    return Panel(key, str(spec.title), data)


def dashboard(actor: Actor, now: dt.datetime | None = None) -> tuple[Board, list[Panel]]:
    board = Board(actor, now or timezone.now())
    return board, [build_panel(board, key) for key in panel_keys(actor)]
