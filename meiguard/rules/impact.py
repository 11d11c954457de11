"""Rule-change impact (规则变更影响评估): which decisions a rule-pack version would change before it applies.

``assess(candidate, on=...)`` answers "if this version were in force on ``on``, whose decisions would change?".
For every question of the population it runs the pure engine (``authz.policy.decide``) twice on the same
facts, swapping only the rule pack:

* **before** — the rules in force on ``on`` *without* the candidate (the highest published versions
  effective on ``on``, the candidate excluded): for a draft or a future version that is the pack that
  applies now; for a version already in force it is the one it replaced;
* **after** — the same with the candidate in force: a national version replaces the national base under
  every province (each province keeps its own overlay on top); a provincial overlay replaces that
  province's overlay only, so institutions elsewhere are not even evaluated.

The population is complete but bounded (docs/rule-packs.md, "Rule-change impact"):

(a) every qualification authorization that is active or suspended (not revoked, not draft, not expired)
    with a practitioner: its scope (one procedure, or a category / subject expanded over both catalogs)
    at its institution, asked as "may this practitioner do this here" (``PRACTITIONER_CHECKS``, the
    authorization's designated supervisor present). A procedure no authorization covers is denied
    (``AUTHORIZATION_MISSING``) under any pack, so the rest of the catalog cannot flip and is not asked;
(b) every distinct request of the decision log in the ``lookback_days`` (default 90) up to ``on``:
    (institution, practitioner, procedure, supervisor, lots with doses, devices), decided with every check,
    so dose, duration, product and device rules are covered with the products really used.

Facts are loaded in bulk — institutions once, then people, qualifications, sites, authorizations, lots and
devices once per chunk of ``PEOPLE_CHUNK`` practitioners — with the same columns and the same fact
builders as the snapshot loader (``authz/snapshot.py``), so the query count does not grow per question.

The report is a frozen value (codes and facts, no ORM objects, no translated text) so it can be cached:
``report_for`` keys it by the candidate (id, checksum, status, date), ``on``, the look-back and a data
stamp (latest change of every table the engine reads), and serves it to every viewer, each seeing only
the rows of their own institutions (``restricted_to``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Max, Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from meiguard.authz import snapshot as snapshots
from meiguard.authz.choices import AuthorizationKind, AuthorizationStatus
from meiguard.authz.facts import (
    CHINA_TZ,
    AuthorizationFacts,
    DecisionRequest,
    DeviceFacts,
    InstitutionFacts,
    LotFacts,
    PackFacts,
    PractitionerFacts,
    ProductUse,
    QualificationFacts,
    SiteFacts,
    Snapshot,
)
from meiguard.authz.models import Authorization, DecisionLog
from meiguard.authz.policy import (
    CHECKS,
    PRACTITIONER_CHECKS,
    Check,
    Decision,
    Outcome,
    Reason,
    Severity,
    decide,
)
from meiguard.authz.reasons import reason_message
from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.core.excel import xlsx_row, xlsx_value
from meiguard.registry import models as reg

from . import services
from .choices import Jurisdiction
from .models import RulePackVersion
from .services import NATIONAL_PACK, ResolvedPack, RuleRef

DEFAULT_LOOKBACK_DAYS = 90
PEOPLE_CHUNK = 500
CACHE_SECONDS = 6 * 3600
NOTIFY_CATCH_UP_DAYS = 7

# Who may see impact reports: those who answer for an institution's compliance, and auditors. Each sees
# the rows of the institutions of their organisations (auditors: the organisations they oversee); platform
# administrators see every institution. Doctors, nurses, procurement and suppliers get a 403.
VIEWER_ROLES = frozenset(
    {Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER, Role.MEDICAL_DIRECTOR, Role.AUDITOR}
)
NOTIFY_ROLES = (Role.COMPLIANCE_OFFICER,)

# A report-only reason: the procedure is not in one side's catalog (the live engine answers 404 for it).
NOT_IN_CATALOG = "PROCEDURE_NOT_IN_CATALOG"


class Direction(models.TextChoices):
    TIGHTER = "allow_to_deny", gettext_lazy("允许 → 不允许")
    LOOSER = "deny_to_allow", gettext_lazy("不允许 → 允许")
    WARNING_ADDED = "warning_added", gettext_lazy("新增警示")
    WARNING_REMOVED = "warning_removed", gettext_lazy("警示消除")


class Source(models.TextChoices):
    AUTHORIZATION = "authorization", gettext_lazy("授权范围")
    DECISION_LOG = "decision_log", gettext_lazy("近期核验请求")


OUTCOME_LABELS = {
    Outcome.ALLOW: gettext_lazy("允许"),
    Outcome.ALLOW_WITH_WARNINGS: gettext_lazy("允许(有警示)"),
    Outcome.DENY: gettext_lazy("不允许"),
}


def direction_of(before: Outcome, after: Outcome) -> str | None:
    """How an outcome changed; None when it did not."""
    if before == after:
        return None
    if before != Outcome.DENY and after == Outcome.DENY:
        return Direction.TIGHTER
    if before == Outcome.DENY:
        return Direction.LOOSER
    return Direction.WARNING_ADDED if after == Outcome.ALLOW_WITH_WARNINGS else Direction.WARNING_REMOVED


# ---- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImpactRow:
    """One question whose outcome changes, with the reasons that appear and disappear."""

    institution_id: int
    institution_name: str
    organization_id: int
    province: str
    practitioner_id: int
    practitioner_name: str
    procedure_code: str
    procedure_name_zh: str
    procedure_name_en: str
    authorization_ids: tuple[int, ...]
    sources: tuple[str, ...]
    supervisor_id: int | None
    products: tuple[ProductUse, ...]
    device_ids: tuple[int, ...]
    items: (
        str  # the lots (with dose) and devices of the request, e.g. "衡力 B2026001 180U; 热玛吉-FLX RF-0001"
    )
    asked: int  # how often the decision log holds this request in the look-back window
    before: str
    after: str
    direction: str
    added: tuple[Reason, ...]
    removed: tuple[Reason, ...]

    @property
    def procedure_name(self) -> str:
        english = (translation.get_language() or "").startswith("en")
        return self.procedure_name_en if (english and self.procedure_name_en) else self.procedure_name_zh


@dataclass(frozen=True, slots=True)
class InstitutionSummary:
    institution_id: int
    name: str
    organization_id: int
    province: str
    questions: int
    counts: tuple[tuple[str, int], ...] = ()  # (direction, rows), every direction listed

    def count(self, direction: str) -> int:
        return dict(self.counts).get(direction, 0)

    @property
    def changed(self) -> int:
        return sum(n for _d, n in self.counts)


@dataclass(frozen=True, slots=True)
class Comparison:
    """The packs compared for one province."""

    province: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Note:
    """A province left out of the comparison, and why (message built at the edge)."""

    code: str  # NO_BASELINE | NO_BASE_PACK | OTHER_BASE
    province: str

    @property
    def message(self) -> str:
        messages = {
            "NO_BASELINE": _("%(province)s:评估日没有生效的规则包,未作比较"),
            "NO_BASE_PACK": _("%(province)s:覆盖包所基于的全国规则包没有已发布版本,未作比较"),
            "OTHER_BASE": _("%(province)s:覆盖包基于其他全国规则包,不受本版本影响"),
        }
        return messages.get(self.code, self.code) % {"province": self.province or "-"}


@dataclass(frozen=True)
class ImpactReport:
    version_id: int
    version_label: str
    version_status: str
    effective_from: dt.date | None
    province: str  # "" for a national version
    on: dt.date
    lookback_days: int
    computed_at: dt.datetime
    comparisons: tuple[Comparison, ...]
    institutions: tuple[InstitutionSummary, ...]
    rows: tuple[ImpactRow, ...]
    notes: tuple[Note, ...] = ()

    @property
    def questions(self) -> int:
        return sum(i.questions for i in self.institutions)

    @property
    def is_empty(self) -> bool:
        return not self.rows

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(Direction.values, 0)
        for row in self.rows:
            out[row.direction] += 1
        return out

    def changed_institutions(self) -> list[InstitutionSummary]:
        return [i for i in self.institutions if i.changed]

    def restricted_to(self, org_ids: frozenset[int] | None) -> ImpactReport:
        """The report as seen by someone who may see only these organisations' institutions (None: all)."""
        if org_ids is None:
            return self
        return dataclasses.replace(
            self,
            institutions=tuple(i for i in self.institutions if i.organization_id in org_ids),
            rows=tuple(r for r in self.rows if r.organization_id in org_ids),
        )

    def select(self, *, institution_id: int | None = None, direction: str = "") -> list[ImpactRow]:
        return [
            r
            for r in self.rows
            if (institution_id is None or r.institution_id == institution_id)
            and (not direction or r.direction == direction)
        ]


# ---- access --------------------------------------------------------------------------------------


def may_view(actor: Actor) -> bool:
    return actor.is_unrestricted or bool(actor.org_ids_with_roles(VIEWER_ROLES) | actor.overseen_org_ids)


def viewer_org_ids(actor: Actor) -> frozenset[int] | None:
    """The organisations whose rows ``actor`` sees (None: all); ``PermissionDenied`` if none."""
    if actor.is_unrestricted:
        return None
    orgs = actor.org_ids_with_roles(VIEWER_ROLES) | actor.overseen_org_ids
    if not orgs:
        raise PermissionDenied(_("只有机构管理员、授权专员、医务科和监督机构审计员可以查看规则变更影响评估"))
    return orgs


def get_version(pk: int, actor: Actor | None = None) -> RulePackVersion:
    from .queries import may_read_pack

    version = RulePackVersion.objects.select_related("pack", "pack__extends").filter(pk=pk).first()
    if version is None or not may_read_pack(actor, version.pack):
        raise Http404("rule pack version")
    return version


# ---- which packs are compared --------------------------------------------------------------------


PlanKey = tuple[str, int | None]  # (province, the institution whose own policy applies, or None: template)


@dataclass
class _Plan:
    packs: dict[PlanKey, tuple[ResolvedPack, ResolvedPack]] = field(
        default_factory=dict
    )  # (province, institution with a policy) → (before, after)
    notes: list[Note] = field(default_factory=list)


def plan_key(rows: Sequence[services.VersionRow], province: str, institution_id: int) -> PlanKey:
    """Institutions of one province share a plan unless they have their own policy in force."""
    has_own = any(v.institution_pk == institution_id for v in rows)
    return (province, institution_id if has_own else None)


def _plan(candidate: RulePackVersion, keys: Iterable[PlanKey], on: dt.date) -> _Plan:
    """The packs before and after ``candidate`` takes effect, per plan key. The versions in force are picked
    by the resolver's own rule (``services.pick_in_force``); the candidate, perhaps a draft, stays a model."""
    rows = services.published_in_force(on, exclude_pk=candidate.pk)
    built: dict[tuple[int, int | None, int | None], ResolvedPack] = {}
    Version = RulePackVersion | services.VersionRow

    def build(
        province: str, national: Version, overlay: Version | None, layer: Version | None
    ) -> ResolvedPack:
        key = (national.pk, overlay.pk if overlay else None, layer.pk if layer else None)
        if key not in built:
            built[key] = services.build(province, national, overlay, layer)
        return built[key]

    plan = _Plan()
    jurisdiction = candidate.pack.jurisdiction
    for key in sorted(keys, key=lambda k: (k[0], k[1] or 0)):
        province, institution_id = key
        national_before, overlay_before, layer_before = services.pick_in_force(rows, province, institution_id)
        layer_after: Version | None = layer_before
        national_after: Version | None
        overlay_after: Version | None
        if jurisdiction == Jurisdiction.NATIONAL:
            if services.base_code(overlay_before) != candidate.pack.code:
                plan.notes.append(Note("OTHER_BASE", province))
                continue
            national_after, overlay_after = candidate, overlay_before
        elif jurisdiction == Jurisdiction.INSTITUTION:
            national_after, overlay_after, layer_after = national_before, overlay_before, candidate
        else:
            extends = candidate.pack.extends.code if candidate.pack.extends else NATIONAL_PACK
            national_after, overlay_after = services.national_in_force(rows, extends), candidate
        if national_before is None:
            plan.notes.append(Note("NO_BASELINE", province))
            continue
        if national_after is None:
            plan.notes.append(Note("NO_BASE_PACK", province))
            continue
        plan.packs[key] = (
            build(province, national_before, overlay_before, layer_before),
            build(province, national_after, overlay_after, layer_after),
        )
    return plan


# ---- the population ------------------------------------------------------------------------------

# (institution, practitioner, procedure, supervisor, lots, devices, anaesthetist, anaesthesia)
QuestionKey = tuple[
    int, int, str, int | None, tuple[ProductUse, ...], tuple[int, ...], int | None, str | None
]


@dataclass(slots=True)
class _Question:
    sources: set[str] = field(default_factory=set)
    authorization_ids: set[int] = field(default_factory=set)
    asked: int = 0


class _Catalog:
    """Which procedure codes a qualification authorization's scope covers in one pack (memoised per pack)."""

    def __init__(self, pack: ResolvedPack) -> None:
        self.by_category: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.by_subject: dict[str, list[str]] = defaultdict(list)
        for proc in pack.procedures.values():
            self.by_category[proc.category].append((proc.code, proc.subject))
            self.by_subject[proc.subject].append(proc.code)

    def covered(self, code: str, category: str, subject: str) -> list[str]:
        if code:
            return [code]  # kept even if the pack lacks it: a removed item must show up
        if category:
            return [c for c, s in self.by_category.get(category, ()) if subject in ("", s)]
        return list(self.by_subject.get(subject, ()))


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=CHINA_TZ)


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=CHINA_TZ)


def _product_uses(data: Any) -> tuple[ProductUse, ...]:
    out = []
    for item in data or ():
        dose = item.get("dose_value")
        minutes = item.get("minutes")
        out.append(
            ProductUse(
                lot_id=int(item["lot_id"]),
                dose_value=Decimal(str(dose)) if dose not in (None, "") else None,
                dose_unit=item.get("dose_unit") or None,
                minutes=int(minutes) if minutes is not None else None,
            )
        )
    return tuple(out)


def _logged_question(row: tuple[Any, ...]) -> QuestionKey | None:
    institution_id, practitioner_id, code, request = row
    try:
        products = _product_uses(request.get("products"))
        devices = tuple(int(d) for d in request.get("device_ids") or ())
        supervisor = request.get("supervisor_id")
        supervisor_id = int(supervisor) if supervisor else None
        anesthetist = request.get("anesthetist_id")
        anesthetist_id = int(anesthetist) if anesthetist else None
        anesthesia = str(request["anesthesia"]) if request.get("anesthesia") else None
    except (AttributeError, KeyError, TypeError, ValueError, InvalidOperation):
        return None  # a malformed stored request is skipped, not fatal
    return (
        institution_id,
        practitioner_id,
        code,
        supervisor_id,
        products,
        devices,
        anesthetist_id,
        anesthesia,
    )


# ---- bulk facts (the snapshot loader's columns and builders, for many people at once) -----------


def _in_chunks(values: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _institution_facts(inst: snapshots.InstitutionRow) -> InstitutionFacts:
    return snapshots.institution_facts(inst)


def _people_facts(ids: Sequence[int]) -> dict[int, PractitionerFacts]:
    """Practitioner facts for ``ids``: three queries, whatever the number of people."""
    people = {
        row[0]: row
        for row in reg.Practitioner.objects.filter(pk__in=ids)
        .order_by()
        .values_list(*snapshots.PERSON_COLUMNS)
    }
    quals: dict[int, list[QualificationFacts]] = {pk: [] for pk in people}
    rows = (
        reg.Qualification.objects.filter(practitioner_id__in=ids)
        .order_by()
        .values_list(*snapshots.QUALIFICATION_COLUMNS)
    )
    for q in sorted(rows, key=lambda r: r[1]):
        quals[q[0]].append(snapshots.qualification_facts(q))
    sites: dict[int, list[SiteFacts]] = {pk: [] for pk in people}
    rows = (
        reg.PractitionerSite.objects.filter(practitioner_id__in=ids)
        .order_by()
        .values_list(*snapshots.SITE_COLUMNS)
    )
    for s in sorted(rows, key=lambda r: r[1]):
        sites[s[0]].append(SiteFacts(s[2], s[3], s[4]))
    return {pk: snapshots.person_facts(row, sites[pk], quals[pk]) for pk, row in people.items()}


def _authorization_facts(
    practitioner_ids: Sequence[int],
) -> dict[tuple[int, int], tuple[AuthorizationFacts, ...]]:
    """Every authorization of these practitioners, by (practitioner, institution) as the loader reads it."""
    grouped: dict[tuple[int, int], list[AuthorizationFacts]] = defaultdict(list)
    rows = (
        Authorization.objects.filter(practitioner_id__in=practitioner_ids)
        .order_by()
        .values_list(*snapshots.AUTHORIZATION_COLUMNS)
    )
    for a in sorted(rows, key=lambda r: r[0]):
        facts = snapshots.authorization_facts(a)
        assert facts.practitioner_id is not None
        grouped[(facts.practitioner_id, facts.institution_id)].append(facts)
    return {k: tuple(v) for k, v in grouped.items()}


def _shared_technology(institution_ids: Sequence[int]) -> dict[int, tuple[AuthorizationFacts, ...]]:
    """The technology authorizations that apply to everyone at these institutions, by institution, as the
    loader reads them: granted to the institution, or its own with no practitioner (institution-wide)."""
    grouped: dict[int, list[AuthorizationFacts]] = defaultdict(list)
    ids = list(institution_ids)
    rows = (
        Authorization.objects.filter(
            Q(kind=AuthorizationKind.TECHNOLOGY, grantee_institution_id__in=ids)
            | Q(
                kind=AuthorizationKind.TECHNOLOGY,
                institution_id__in=ids,
                practitioner_id__isnull=True,
                grantee_institution_id__isnull=True,
            )
        )
        .order_by()
        .values_list(*snapshots.AUTHORIZATION_COLUMNS)
    )
    for a in rows:
        facts = snapshots.authorization_facts(a)
        grouped[facts.institution_id].append(facts)
    return {k: tuple(v) for k, v in grouped.items()}


def _applying(*groups: Iterable[AuthorizationFacts]) -> tuple[AuthorizationFacts, ...]:
    """One person's (and anaesthetist's) rows with the institution's shared ones, each once, by id."""
    by_id = {a.id: a for group in groups for a in group}
    return tuple(by_id[k] for k in sorted(by_id))


class _PackFacts:
    """Pack facts per (pack, institution kind, procedure), shared by institutions of the same kind."""

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], PackFacts | None] = {}

    def get(self, pack: ResolvedPack, inst: snapshots.InstitutionRow, code: str) -> PackFacts | None:
        key = (
            pack.version_ids,
            inst.institution_type,
            inst.hospital_level,
            tuple(sorted(inst.subjects)),
            inst.has_anesthesiology,
            code,
        )
        if key not in self._memo:
            self._memo[key] = snapshots.pack_facts(pack, inst, code) if code in pack.procedures else None
        return self._memo[key]


def _not_in_catalog(pack: ResolvedPack, code: str) -> Decision:
    unlisted = pack.rules.get("PG-04.unlisted-surgery")
    rule = (
        unlisted.ref if unlisted is not None else RuleRef(pack.national.pack, pack.national.version, "", "")
    )
    return Decision(Outcome.DENY, (Reason(NOT_IN_CATALOG, Severity.DENY, rule, (("procedure", code),)),))


def _items_text(
    products: Sequence[ProductUse], lots: Mapping[int, LotFacts], devices: Sequence[DeviceFacts]
) -> str:
    parts = []
    for use in products:
        lot = lots[use.lot_id]
        text = f"{lot.product.brand} {lot.lot_no}"
        if use.dose_value is not None:
            text += f" {use.dose_value.normalize():f}{use.dose_unit or lot.product.dose_unit}"
        if use.minutes is not None:
            text += f" {use.minutes}min"
        parts.append(text)
    parts += [f"{d.model} {d.serial}" for d in devices]
    return "; ".join(parts)


# ---- assessing -----------------------------------------------------------------------------------


def lookback_default() -> int:
    return int(getattr(settings, "RULES_IMPACT_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS))


def assess(
    candidate: RulePackVersion, *, on: dt.date | None = None, lookback_days: int | None = None
) -> ImpactReport:
    """Decisions that change if ``candidate`` is in force on ``on`` (default today). Reads only; no caching."""
    on = on or timezone.localdate()
    lookback = lookback_default() if lookback_days is None else lookback_days
    jurisdiction = candidate.pack.jurisdiction
    national = jurisdiction == Jurisdiction.NATIONAL
    # An institution's policy affects only that institution; the template affects every institution that
    # has no policy of its own; a provincial overlay its province; a national version everyone.
    only_institution = candidate.pack.institution_pk if jurisdiction == Jurisdiction.INSTITUTION else None
    scope_province = (
        ""
        if (national or jurisdiction == Jurisdiction.INSTITUTION)
        else services.normalize_province(candidate.pack.province)
    )

    inst_qs = reg.Institution.objects.order_by()
    if scope_province:
        inst_qs = inst_qs.filter(province=scope_province)
    if only_institution is not None:
        inst_qs = inst_qs.filter(pk=only_institution)
    institutions = {
        row[0]: snapshots.InstitutionRow(*row) for row in inst_qs.values_list(*snapshots.INSTITUTION_COLUMNS)
    }
    rows_in_force = services.published_in_force(on, exclude_pk=candidate.pk)
    province_of = {pk: services.normalize_province(i.province) for pk, i in institutions.items()}
    key_of = {pk: plan_key(rows_in_force, province_of[pk], pk) for pk in institutions}
    if candidate.pack.code == services.TEMPLATE_PACK:
        key_of = {pk: k for pk, k in key_of.items() if k[1] is None}
    plan = _plan(candidate, set(key_of.values()), on)
    institutions = {pk: i for pk, i in institutions.items() if key_of.get(pk) in plan.packs}

    questions: dict[QuestionKey, _Question] = defaultdict(_Question)
    scope_auths: dict[tuple[int, int, str], set[int]] = defaultdict(set)
    catalogs: dict[tuple[int, int | None, int | None], _Catalog] = {}

    def catalog(pack: ResolvedPack) -> _Catalog:
        if pack.version_ids not in catalogs:
            catalogs[pack.version_ids] = _Catalog(pack)
        return catalogs[pack.version_ids]

    # (a) the scopes of authorizations in force or suspended
    auth_qs = Authorization.objects.filter(
        kind=AuthorizationKind.QUALIFICATION,
        status__in=[AuthorizationStatus.ACTIVE, AuthorizationStatus.SUSPENDED],
        practitioner__isnull=False,
    )
    if scope_province:
        auth_qs = auth_qs.filter(institution__province=scope_province)
    if only_institution is not None:
        auth_qs = auth_qs.filter(institution_id=only_institution)
    for pk, inst_id, person_id, code, category, subject, supervisor_id in auth_qs.order_by().values_list(
        "pk",
        "institution_id",
        "practitioner_id",
        "procedure_code",
        "procedure_category",
        "subject",
        "supervisor_id",
    ):
        if inst_id not in institutions:
            continue
        before, after = plan.packs[key_of[inst_id]]
        codes = set(catalog(before).covered(code, category, subject))
        codes |= set(catalog(after).covered(code, category, subject))
        for proc in codes:
            q = questions[(inst_id, person_id, proc, supervisor_id, (), (), None, None)]
            q.sources.add(Source.AUTHORIZATION)
            q.authorization_ids.add(pk)
            scope_auths[(inst_id, person_id, proc)].add(pk)

    # (b) the distinct requests of the decision log in the look-back window
    log_qs = DecisionLog.objects.filter(
        at__gte=_start_of(on - dt.timedelta(days=lookback)), at__lt=_start_of(on + dt.timedelta(days=1))
    )
    if scope_province:
        log_qs = log_qs.filter(institution__province=scope_province)
    if only_institution is not None:
        log_qs = log_qs.filter(institution_id=only_institution)
    logged = log_qs.order_by().values_list("institution_id", "practitioner_id", "procedure_code", "request")
    for row in logged.iterator(chunk_size=2000):
        if row[0] not in institutions:
            continue
        key = _logged_question(row)
        if key is None:
            continue
        q = questions[key]
        q.sources.add(Source.DECISION_LOG)
        q.asked += 1

    by_person: dict[int, list[QuestionKey]] = defaultdict(list)
    for key, q in questions.items():
        by_person[key[1]].append(key)
        q.authorization_ids |= scope_auths.get((key[0], key[1], key[2]), set())  # a logged request's too
    per_inst_questions: dict[int, int] = defaultdict(int)
    changed: list[ImpactRow] = []
    shared = _shared_technology(sorted(institutions)) if questions else {}
    facts = _PackFacts()
    at = _noon(on)
    inst_facts = {pk: _institution_facts(i) for pk, i in institutions.items()}

    for chunk in _in_chunks(sorted(by_person), PEOPLE_CHUNK):
        keys = [k for pid in chunk for k in by_person[pid]]
        anesthetists = {k[6] for k in keys if k[6]}
        people = _people_facts(sorted(set(chunk) | {k[3] for k in keys if k[3]} | anesthetists))
        auths = _authorization_facts(sorted(set(chunk) | anesthetists))
        lot_ids = sorted({u.lot_id for k in keys for u in k[4]})
        device_ids = sorted({d for k in keys for d in k[5]})
        items = snapshots.load_items(lot_ids, device_ids) if (lot_ids or device_ids) else {}
        for key in keys:
            row = _evaluate(
                key,
                questions[key],
                institutions,
                inst_facts,
                province_of,
                key_of,
                plan,
                people,
                auths,
                shared,
                items,
                facts,
                at,
            )
            per_inst_questions[key[0]] += 1
            if row is not None:
                changed.append(row)

    changed.sort(
        key=lambda r: (
            r.institution_name,
            r.institution_id,
            r.practitioner_name,
            r.practitioner_id,
            r.procedure_code,
            r.items,
        )
    )
    per_inst: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Direction.values, 0))
    for r in changed:
        per_inst[r.institution_id][r.direction] += 1
    summaries = tuple(
        InstitutionSummary(
            institution_id=pk,
            name=i.name,
            organization_id=i.organization_id,
            province=province_of[pk],
            questions=per_inst_questions.get(pk, 0),
            counts=tuple(per_inst[pk].items()) if pk in per_inst else tuple((d, 0) for d in Direction.values),
        )
        for pk, i in sorted(institutions.items(), key=lambda kv: (kv[1].name, kv[0]))
    )
    return ImpactReport(
        version_id=candidate.pk,
        version_label=str(candidate),
        version_status=candidate.status,
        effective_from=candidate.effective_from,
        province=scope_province,
        on=on,
        lookback_days=lookback,
        computed_at=timezone.now(),
        comparisons=tuple(
            Comparison(p[0], before.version_label, after.version_label)
            for p, (before, after) in sorted(plan.packs.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
        ),
        institutions=summaries,
        rows=tuple(changed),
        notes=tuple(plan.notes),
    )


def _evaluate(
    key: QuestionKey,
    question: _Question,
    institutions: Mapping[int, snapshots.InstitutionRow],
    inst_facts: Mapping[int, InstitutionFacts],
    province_of: Mapping[int, str],
    key_of: Mapping[int, PlanKey],
    plan: _Plan,
    people: Mapping[int, PractitionerFacts],
    auths: Mapping[tuple[int, int], tuple[AuthorizationFacts, ...]],
    shared: Mapping[int, tuple[AuthorizationFacts, ...]],
    items: Mapping[tuple[str, int], snapshots.Item],
    facts: _PackFacts,
    at: dt.datetime,
) -> ImpactRow | None:
    inst_id, person_id, code, supervisor_id, products, device_ids, anesthetist_id, anesthesia = key
    inst = institutions[inst_id]
    person = people.get(person_id)
    supervisor = people.get(supervisor_id) if supervisor_id else None
    anesthetist = people.get(anesthetist_id) if anesthetist_id else None
    if person is None or (supervisor_id and supervisor is None) or (anesthetist_id and anesthetist is None):
        return None
    lot_items = [items.get(("l", pk)) for pk in sorted({u.lot_id for u in products})]
    device_items = [items.get(("d", pk)) for pk in sorted(set(device_ids))]
    if any(i is None for i in lot_items) or any(i is None for i in device_items):
        return None
    lots: tuple[LotFacts, ...] = tuple(i.facts for i in lot_items if i is not None)  # type: ignore[misc]
    devices: tuple[DeviceFacts, ...] = tuple(i.facts for i in device_items if i is not None)  # type: ignore[misc]
    before_pack, after_pack = plan.packs[key_of[inst_id]]
    before_facts = facts.get(before_pack, inst, code)
    after_facts = facts.get(after_pack, inst, code)
    if before_facts is None and after_facts is None:
        return None
    req = DecisionRequest(
        institution_id=inst_id,
        practitioner_id=person_id,
        procedure_code=code,
        at=at,
        products=products,
        device_ids=device_ids,
        supervisor_id=supervisor_id,
        anesthetist_id=anesthetist_id,
        anesthesia=anesthesia,
    )
    checks: tuple[Check, ...] = CHECKS if (products or device_ids) else PRACTITIONER_CHECKS

    def verdict(pack: ResolvedPack, pack_facts: PackFacts | None) -> Decision:
        if pack_facts is None:
            return _not_in_catalog(pack, code)
        snap = Snapshot(
            pack=pack_facts,
            institution=inst_facts[inst_id],
            practitioner=person,
            supervisor=supervisor,
            authorizations=_applying(
                auths.get((person_id, inst_id), ()),
                auths.get((anesthetist_id, inst_id), ()) if anesthetist_id else (),
                shared.get(inst_id, ()),
            ),
            lots=lots,
            devices=devices,
            anesthetist=anesthetist,
        )
        return decide(req, snap, checks=checks)

    before = verdict(before_pack, before_facts)
    after = verdict(after_pack, after_facts)
    direction = direction_of(before.outcome, after.outcome)
    if direction is None:
        return None
    before_codes, after_codes = set(before.codes()), set(after.codes())
    proc = after_pack.procedures.get(code) or before_pack.procedures.get(code)
    return ImpactRow(
        institution_id=inst_id,
        institution_name=inst.name,
        organization_id=inst.organization_id,
        province=province_of[inst_id],
        practitioner_id=person_id,
        practitioner_name=person.name,
        procedure_code=code,
        procedure_name_zh=proc.name_zh if proc else code,
        procedure_name_en=proc.name_en if proc else "",
        authorization_ids=tuple(sorted(question.authorization_ids)),
        sources=tuple(s for s in Source.values if s in question.sources),
        supervisor_id=supervisor_id,
        products=products,
        device_ids=device_ids,
        items=_items_text(products, {lot.id: lot for lot in lots}, devices),
        asked=question.asked,
        before=str(before.outcome),
        after=str(after.outcome),
        direction=direction,
        added=tuple(r for r in after.reasons if r.code not in before_codes),
        removed=tuple(r for r in before.reasons if r.code not in after_codes),
    )


# ---- caching -------------------------------------------------------------------------------------

# Every table whose rows become facts; the report is recomputed when any of them changes.
_STAMPED: tuple[type[models.Model], ...] = (
    reg.Institution,
    reg.Practitioner,
    reg.PractitionerSite,
    reg.Qualification,
    reg.Lot,
    reg.Device,
    reg.Product,
    reg.Supplier,
    reg.DistributionAuthorization,
    Authorization,
)


def data_stamp() -> tuple[Any, ...]:
    """A cheap generation of the data the engine reads: latest change and row count of each table, the newest
    decision log row and the published rule-pack versions."""
    out: list[Any] = []
    for model in _STAMPED:
        agg = model._base_manager.order_by().aggregate(m=Max("updated_at"), n=Count("pk"))
        out.append((agg["m"].isoformat() if agg["m"] else "", agg["n"]))
    out.append(DecisionLog.objects.order_by().aggregate(m=Max("pk"))["m"])
    versions = RulePackVersion.objects.published().order_by().aggregate(m=Max("published_at"), n=Count("pk"))
    out.append((versions["m"].isoformat() if versions["m"] else "", versions["n"]))
    return tuple(out)


def cache_key(candidate: RulePackVersion, on: dt.date, lookback_days: int) -> str:
    parts = (
        candidate.pk,
        candidate.checksum,
        candidate.status,
        candidate.effective_from,
        on,
        lookback_days,
        data_stamp(),
    )
    return "rules:impact:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def report_for(
    candidate: RulePackVersion,
    *,
    on: dt.date | None = None,
    lookback_days: int | None = None,
    refresh: bool = False,
) -> ImpactReport:
    """``assess`` computed once per (candidate, date, data generation) and cached for every viewer."""
    on = on or timezone.localdate()
    lookback = lookback_default() if lookback_days is None else lookback_days
    key = cache_key(candidate, on, lookback)
    if not refresh:
        hit = cache.get(key)
        if isinstance(hit, ImpactReport):
            return hit
    report = assess(candidate, on=on, lookback_days=lookback)
    cache.set(key, report, CACHE_SECONDS)
    return report


# ---- presentation helpers (pages, API, Excel) ----------------------------------------------------


def reason_text(reason: Reason) -> str:
    if reason.code == NOT_IN_CATALOG:
        return _("项目 %(procedure)s 不在该版本的项目目录中") % {"procedure": reason.fact("procedure") or ""}
    return reason_message(reason)


def outcome_label(outcome: str) -> str:
    try:
        return str(OUTCOME_LABELS[Outcome(outcome)])
    except ValueError:
        return outcome


def direction_label(direction: str) -> str:
    try:
        return str(Direction(direction).label)
    except ValueError:
        return direction


def source_labels(sources: Iterable[str]) -> str:
    labels = dict(Source.choices)
    return "、".join(str(labels.get(s, s)) for s in sources)


def status_label(status: str) -> str:
    from .choices import VersionStatus

    try:
        return str(VersionStatus(status).label)
    except ValueError:
        return status


SUMMARY_SHEET = "汇总"
DETAIL_SHEET = "明细"


def workbook(report: ImpactReport, rows: Sequence[ImpactRow] | None = None) -> bytes:
    """The report as an .xlsx: sheet 汇总 (per institution and direction) and sheet 明细 (one row per change)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    rows = report.rows if rows is None else rows
    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def header(ws: Any, titles: Sequence[str]) -> None:
        cells = []
        for title in titles:
            cell = WriteOnlyCell(ws, value=title)
            cell.font = bold
            cells.append(cell)
        ws.append(cells)

    summary = wb.create_sheet(SUMMARY_SHEET)
    summary.column_dimensions["A"].width = 28
    summary.append([WriteOnlyCell(summary, value=_("规则变更影响评估"))])
    summary.append([_("规则包版本"), report.version_label])
    summary.append([_("状态"), status_label(report.version_status)])
    summary.append([_("生效日期"), report.effective_from.isoformat() if report.effective_from else "—"])
    summary.append([_("评估日期"), report.on.isoformat()])
    summary.append([_("核验记录回溯天数"), report.lookback_days])
    summary.append([_("计算时间"), timezone.localtime(report.computed_at).strftime("%Y-%m-%d %H:%M")])
    for c in report.comparisons:
        summary.append([_("对比"), f"{c.province}: {c.before} → {c.after}"])
    for n in report.notes:
        summary.append(xlsx_row([_("说明"), n.message]))
    summary.append([])
    directions = list(Direction)
    header(summary, [_("机构"), _("省份"), _("评估问题数"), *[str(d.label) for d in directions], _("合计")])
    for inst in report.institutions:
        summary.append(
            [inst.name, inst.province, inst.questions, *[inst.count(d) for d in directions], inst.changed]
        )
    totals = report.totals()
    summary.append([_("合计"), "", report.questions, *[totals[d] for d in directions], len(report.rows)])

    detail = wb.create_sheet(DETAIL_SHEET)
    for letter, width in zip(
        "ABCDEFGHIJKLMNO", (22, 8, 12, 12, 28, 20, 14, 28, 10, 12, 12, 14, 48, 48, 40), strict=True
    ):
        detail.column_dimensions[letter].width = width
    header(
        detail,
        [
            _("机构"),
            _("省份"),
            pgettext("impact", "执业人员"),
            _("授权"),
            _("项目编码"),
            _("项目名称"),
            _("来源"),
            _("产品/设备"),
            _("近期核验次数"),
            _("变更前"),
            _("变更后"),
            _("变化"),
            _("新增原因"),
            _("消除原因"),
            _("规则依据"),
        ],
    )
    wrap = Alignment(wrap_text=True, vertical="top")
    for r in rows:
        values = [
            r.institution_name,
            r.province,
            r.practitioner_name,
            ", ".join(f"#{pk}" for pk in r.authorization_ids),
            r.procedure_code,
            r.procedure_name,
            source_labels(r.sources),
            r.items,
            r.asked,
            outcome_label(r.before),
            outcome_label(r.after),
            direction_label(r.direction),
            "\n".join(f"{x.code}:{reason_text(x)}" for x in r.added),
            "\n".join(f"{x.code}:{reason_text(x)}" for x in r.removed),
            "\n".join(sorted({str(x.rule) for x in (*r.added, *r.removed)})),
        ]
        cells = []
        for value in values:
            cell = WriteOnlyCell(detail, value=xlsx_value(value))
            cell.alignment = wrap
            cells.append(cell)
        detail.append(cells)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def xlsx_filename(report: ImpactReport) -> str:
    return f"impact-{report.version_label.replace(' ', '-')}-{report.on.isoformat()}.xlsx"


# ---- the daily hook ------------------------------------------------------------------------------


def _version_name(version: RulePackVersion) -> str:
    return f"{version.pack.display_name} v{version.version}"


def notify_versions_taking_effect(on: dt.date | None = None) -> int:
    """Tell the compliance officers of every institution whose decisions change that a version takes effect.

    Idempotent and safe to run daily (or more often): versions published with ``effective_from`` in the last
    ``NOTIFY_CATCH_UP_DAYS`` days up to ``on`` are considered (a missed day is caught up), the impact is the
    report as of the effective date (against the version it replaces), and each user gets one notification
    per version (``dedupe_key``). Returns the number of notifications created.
    """
    from meiguard.notify.messages import each_language, fragment
    from meiguard.notify.models import NotificationKind
    from meiguard.notify.services import send, users_with_roles

    on = on or timezone.localdate()
    versions = (
        RulePackVersion.objects.published()
        .filter(effective_from__lte=on, effective_from__gt=on - dt.timedelta(days=NOTIFY_CATCH_UP_DAYS))
        .select_related("pack", "pack__extends")
        .order_by("effective_from", "pk")
    )
    created = 0
    for version in versions:
        assert version.effective_from is not None
        report = report_for(version, on=version.effective_from)
        per_user: dict[int, list[InstitutionSummary]] = defaultdict(list)
        for inst in report.changed_institutions():
            for user_id in users_with_roles(inst.organization_id, NOTIFY_ROLES):
                per_user[user_id].append(inst)
        version_name = each_language(partial(_version_name, version))
        url = reverse("rules:version_impact", args=[version.pk]) + f"?on={version.effective_from.isoformat()}"
        with transaction.atomic():
            for user_id, insts in sorted(per_user.items()):
                lines = [
                    fragment(
                        "rules.line.institution_impact",
                        name=i.name,
                        tighter=i.count(Direction.TIGHTER),
                        looser=i.count(Direction.LOOSER),
                        warn=i.count(Direction.WARNING_ADDED) + i.count(Direction.WARNING_REMOVED),
                    )
                    for i in insts
                ]
                created += len(
                    send(
                        [user_id],
                        kind=NotificationKind.RULES,
                        message="rules.version_effective",
                        params={
                            "version": version_name,
                            "date": version.effective_from.isoformat(),
                            "lines": lines,
                        },
                        url=url,
                        dedupe_key=f"rules.version_effective:{version.pk}",
                    )
                )
    return created
