"""Build the engine's snapshot from the database in a fixed number of queries, and cache hot parts of it.

A snapshot has two kinds of part, cached separately so that one practitioner asked about many procedures,
or one lot used by many practitioners, is loaded once:

* the **people** part — institution, rule pack, practitioner (+ supervisor, + anaesthetist), their
  qualifications, multi-site registrations and authorizations (the practitioner's and the anaesthetist's at
  the institution, plus the technology authorizations that apply there) — keyed by those ids, the China
  calendar day and the *generations* of the institution and the practitioner(s), and valid only for the
  rules generation it was built under;
* the **items** — one entry per lot or device, keyed by its id and its own generation and the product
  catalog's (products, suppliers, distribution authorizations).

Two kinds of generation:

* the **rules generation** lives in the database (``rules.services.current_generation``) and is bumped inside
  the transaction that publishes a rule-pack version, so every process sees a publish as it commits. Whatever
  is derived from rule packs (the people part's pack, the memoised pack, the shared pack facts) is tied to it.
  A warm request reads it with one primary-key SELECT (a batch reads it once); a cold request reads it in the
  institution query, so the cold count does not grow;
* the **registry generations** live in Django's cache and are bumped on commit by ``authz/signals.py`` after
  every relevant registry or authorization write, so the next request misses and reloads.

Cold queries (whatever the data size): institution 1 (with the rules generation), the rule-pack version in
force 1 (memoised per day and rules generation), practitioners 1, qualifications 1, sites 1, authorizations 1;
and, only for items not cached, lots 1 and devices 1 (each joined with its supplier's distribution
authorizations). Warm: the rules generation 1. Every query reads plain rows (``values_list``, no model
instances, no ordering) that become frozen facts directly.

Access is checked on every request, warm or cold, against the organisations recorded with each part: a
foreign id is a 404 naming the request field.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db.models import Q

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import FieldErrors
from meiguard.lib.fixedsql import FixedQuery
from meiguard.registry.models import Device as DeviceModel
from meiguard.registry.models import (
    Institution,
    Lot,
    Practitioner,
    PractitionerSite,
    Qualification,
)
from meiguard.rules.choices import TITLE_RANK, Title
from meiguard.rules.services import (
    ResolvedPack,
    RuleRef,
    current_generation,
    generation_subquery,
    resolve,
)

from .choices import AuthorizationKind
from .codec import combine_digests, encode, part_digest, people_part
from .facts import (
    NO_RULE,
    AnesthesiaRule,
    AuthorizationFacts,
    ChiefRequirement,
    DecisionRequest,
    DeviceFacts,
    DoseLimit,
    DurationLimit,
    InstitutionFacts,
    LotFacts,
    PackFacts,
    PractitionerFacts,
    ProcedureFacts,
    ProductFacts,
    QualificationFacts,
    SiteFacts,
    Snapshot,
)
from .models import Authorization

GEN_TIMEOUT = None  # generations never expire by themselves
MAX_ENTRIES = 50_000


# ---- generations -----------------------------------------------------------------------------


def gen_key(kind: str, pk: int | None = None) -> str:
    return f"authz:gen:{kind}" if pk is None else f"authz:gen:{kind}:{pk}"


def bump(keys: Iterable[str]) -> None:
    for key in keys:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, GEN_TIMEOUT)


# ---- the in-process cache --------------------------------------------------------------------


class LRU:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Hashable, entry: Any) -> None:
        with self._lock:
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0


# ``snapshots`` counts a hit when the people part of a request was cached (items are counted in ``items``).
snapshots = LRU()
items = LRU()
_packs = LRU(max_entries=20_000)  # one entry per (institution, day): resolved packs are shared objects
_shared_pack_facts = LRU(max_entries=20_000)


# Digests of snapshots and of their rule-pack parts known to be stored (both are append-only rows, so this
# never goes stale in production; tests roll the database back, so ``clear()`` forgets them too).
_stored = LRU(max_entries=200_000)
_stored_packs = LRU(max_entries=20_000)


def is_stored(digest: str) -> bool:
    return _stored.get(digest) is not None


def mark_stored(digests: Iterable[str]) -> None:
    for digest in digests:
        _stored.put(digest, True)


def is_pack_stored(digest: str) -> bool:
    return _stored_packs.get(digest) is not None


def mark_packs_stored(digests: Iterable[str]) -> None:
    for digest in digests:
        _stored_packs.put(digest, True)


def clear(*, rules: bool = True) -> None:
    """Forget what this process has cached.

    ``rules=False`` forgets the people, lots, devices and stored snapshots but keeps what was derived from the
    rule packs in force (resolved packs, their facts per procedure and which rule-pack parts are stored): a
    server in the state of its first question about a practitioner, not of its first question of the day.
    Only the benchmark uses it; tests forget everything, since they roll the database back.
    """
    snapshots.clear()
    items.clear()
    _stored.clear()
    if rules:
        _packs.clear()
        _shared_pack_facts.clear()
        _stored_packs.clear()


class InstitutionRow(NamedTuple):
    pk: int
    organization_id: int
    name: str
    status: str
    licence_valid_from: dt.date | None
    licence_valid_until: dt.date | None
    next_verification_due: dt.date | None
    subjects: list[str]
    province: str
    institution_type: str
    hospital_level: str
    has_anesthesiology: bool


@dataclass(slots=True)
class People:
    pack: ResolvedPack
    inst: InstitutionRow
    institution: InstitutionFacts
    practitioner: PractitionerFacts
    supervisor: PractitionerFacts | None
    authorizations: tuple[AuthorizationFacts, ...]
    anesthetist: PractitionerFacts | None
    visibility: tuple[tuple[str, frozenset[int]], ...]
    rules_gen: int  # the rules generation ``pack`` was resolved under; another one makes this part stale
    pack_facts: dict[str, tuple[PackFacts, dict[str, Any], str]] = field(default_factory=dict)
    encoded: dict[str, Any] = field(default_factory=dict)
    digest: str = ""

    def facts_for(self, procedure_code: str) -> tuple[PackFacts, dict[str, Any], str]:
        hit = self.pack_facts.get(procedure_code)
        if hit is None:
            # The pack facts depend only on the (immutable) pack versions, the institution's kind and the
            # procedure, so institutions of the same kind share them.
            inst = self.inst
            key = (
                self.rules_gen,
                self.pack.version_ids,
                inst.institution_type,
                inst.hospital_level,
                tuple(sorted(inst.subjects)),
                inst.has_anesthesiology,
                procedure_code,
            )
            hit = _shared_pack_facts.get(key)
            if hit is None:
                facts = pack_facts(self.pack, inst, procedure_code)
                encoded = encode(facts)
                hit = (facts, encoded, part_digest(encoded))
                _shared_pack_facts.put(key, hit)
            self.pack_facts[procedure_code] = hit
        return hit

    def encode_once(self) -> None:
        if not self.digest:
            self.encoded.update(
                institution=encode(self.institution),
                practitioner=encode(self.practitioner),
                supervisor=encode(self.supervisor),
                authorizations=encode(self.authorizations),
            )
            if self.anesthetist is not None:  # absent otherwise: old snapshots keep their digests
                self.encoded["anesthetist"] = encode(self.anesthetist)
            self.digest = part_digest(people_part(self.encoded))


@dataclass(frozen=True, slots=True)
class Item:
    facts: LotFacts | DeviceFacts
    organization_id: int
    encoded: dict[str, Any]
    digest: str


# ---- building facts ----------------------------------------------------------------------------


def _ref(pack: ResolvedPack, rule_id: str) -> RuleRef:
    """The rule with this id in the resolved pack; ``NO_RULE`` when a (test) pack lacks it."""
    rule = pack.rules.get(rule_id)
    return rule.ref if rule is not None else NO_RULE


def _required(pack: ResolvedPack, metric: str) -> RuleRef | None:
    """An institution-layer requirement that is switched on (value true), or None."""
    requirement = pack.requirement(metric)
    return requirement.rule if requirement is not None and requirement.value is True else None


def title_rank(title: str) -> int:
    try:
        return TITLE_RANK.get(Title(title), 0)
    except ValueError:
        return 0


def unknown_procedure(code: str) -> FieldErrors:
    """An unknown procedure code is a bad body field (422 naming ``procedure_code``), as everywhere else."""
    from django.utils.translation import gettext as _

    return FieldErrors({"procedure_code": [_("规则包中没有项目编码 %(code)s") % {"code": code}]})


def pack_facts(pack: ResolvedPack, institution: Any, procedure_code: str) -> PackFacts:
    """The rule-pack facts for one procedure at one institution (anything with the Institution's fields)."""
    try:
        proc = pack.procedure(procedure_code)
    except KeyError:
        raise unknown_procedure(procedure_code) from None
    grade = pack.permitted_grade(
        institution_type=institution.institution_type,
        hospital_level=institution.hospital_level or None,
        subjects=institution.subjects,
        has_anesthesiology=institution.has_anesthesiology,
    )
    try:
        chief_req = pack.chief_requirement(proc.subject)
        chief: ChiefRequirement | None = ChiefRequirement(
            subject=chief_req.subject,
            min_years=chief_req.min_years,
            accepted_scopes=frozenset(chief_req.accepted_scopes),
            min_title_rank=title_rank(chief_req.min_title),
            rule=chief_req.rules[0],
            scope_rule=chief_req.rules[1] if len(chief_req.rules) > 1 else None,
            training_min_years=chief_req.training_min_years,
            clinical_alternative_years=chief_req.clinical_alternative_years,
            periodic_assessment_required=chief_req.periodic_assessment_required,
            registered_in_province=chief_req.registered_in_province,
        )
    except KeyError:
        chief = None
    supervision = pack.supervision_for("doctor", proc.subject)
    nurse_ok_rule = next(iter(pack.rules_of("nurse_scope")), None)
    nurse_hours = pack.requirement("nurse_training_hours")
    nurse_qual = pack.nurse_qualification()
    renewal = pack.requirement("nurse_renewal_notice_days")
    notice = pack.requirement("licence_verification_notice_months")
    technology = pack.technology_rule_for(proc.code)
    dose_limits = tuple(
        DoseLimit(lim.product_kind, lim.max_value, lim.unit, lim.rule)
        for lim in pack.limits
        if lim.metric == "units_per_session" and lim.product_kind
    )
    duration_limits = tuple(
        DurationLimit(lim.product_kind, int(lim.max_value), lim.rule)
        for lim in pack.limits
        if lim.metric == "minutes_per_site" and lim.product_kind
    )
    return PackFacts(
        pack=pack.national.pack,
        version=pack.national.version,
        label=pack.version_label,
        procedure=ProcedureFacts(
            code=proc.code,
            subject=proc.subject,
            grade=proc.grade,
            invasive=proc.invasiveness,
            category=proc.category,
            name_zh=proc.name_zh,
            name_en=proc.name_en,
            rule=proc.rule,
            anesthesia_max=proc.anesthesia_max,
        ),
        permitted_grade=grade.grade,
        grade_rule=grade.rule,
        chief=chief,
        supervision_rule=supervision.ref if supervision else _ref(pack, "PR-03.non-chief"),
        nurse_allowed_invasive=frozenset(nurse_ok_rule.data["may_perform"]) if nurse_ok_rule else None,
        nurse_rule=nurse_ok_rule.ref if nurse_ok_rule else NO_RULE,
        nurse_min_training_hours=Decimal(str(nurse_hours.value)) if nurse_hours else Decimal(0),
        nurse_training_rule=nurse_hours.rule if nurse_hours else NO_RULE,
        authorization_rule=_ref(pack, "SP-02.surgical-grading"),
        product_rule=_ref(pack, "DD-07.registered-products"),
        device_rule=_ref(pack, "DD-07.device-use"),
        dose_limits=dose_limits,
        duration_limits=duration_limits,
        licence_rule=_ref(pack, "IN-01.licence"),
        subjects_rule=_ref(pack, "IN-01.registered-subjects"),
        verification_rule=_ref(pack, "IN-04.verification-cycle-years"),
        manual_review_rule=_ref(pack, "PG-04.unlisted-surgery"),
        physician_rule=_ref(pack, "PR-01.physician-licence"),
        nurse_registration_rule=nurse_qual.ref if nurse_qual else NO_RULE,
        supplier_rule=_ref(pack, "DD-07.qualified-supplier"),
        recall_rule=_ref(pack, "DD-09.recalled-lots"),
        ungraded_authorization_rule=_required(pack, "authorization_required_ungraded"),
        product_authorization_rule=_required(pack, "product_authorization_required"),
        device_authorization_rule=_required(pack, "device_authorization_required"),
        anesthesia_rules=tuple(
            AnesthesiaRule(a.grade, a.anesthesia_max, a.requires_anesthetist, a.rule, a.requires_privilege)
            for a in pack.anesthesia_requirements()
        ),
        technology_rule=technology.ref if technology else None,
        nurse_min_years=Decimal(str(nurse_qual.data.get("min_nursing_years", 0)))
        if nurse_qual
        else Decimal(0),
        nurse_qualification_rule=nurse_qual.ref if nurse_qual else None,
        nurse_renewal_notice_days=int(renewal.value) if renewal else None,
        nurse_renewal_rule=renewal.rule if renewal else None,
        verification_notice_months=int(notice.value) if notice else None,
        verification_notice_rule=notice.rule if notice else None,
    )


def _pack(province: str, institution_id: int, on: dt.date, rules_gen: int) -> ResolvedPack:
    key = (province, institution_id, on, rules_gen)
    pack = _packs.get(key)
    if pack is None:
        pack = resolve(province, on, institution_id)
        _packs.put(key, pack)
    return pack


INSTITUTION_COLUMNS = (
    "pk",
    "organization_id",
    "name",
    "status",
    "licence_valid_from",
    "licence_valid_until",
    "next_verification_due",
    "subjects",
    "province",
    "institution_type",
    "hospital_level",
    "has_anesthesiology",
)
PERSON_COLUMNS = (
    "pk",
    "name",
    "profession",
    "status",
    "practice_scope",
    "title",
    "main_institution_id",
    "main_institution__organization_id",
    "practising_since",
    "main_institution__province",
)
QUALIFICATION_COLUMNS = (
    "practitioner_id",
    "pk",
    "kind",
    "subject",
    "valid_from",
    "valid_until",
    "verification_status",
    "qualifying_years",
    "hours",
    "product_reference",
    "duration_months",
)
SITE_COLUMNS = (
    "practitioner_id",
    "pk",
    "institution_id",
    "valid_from",
    "valid_until",
    "institution__organization_id",
)
AUTHORIZATION_COLUMNS = (
    "pk",
    "kind",
    "institution_id",
    "practitioner_id",
    "status",
    "valid_from",
    "valid_until",
    "procedure_code",
    "procedure_category",
    "subject",
    "product_brand",
    "device_model",
    "max_grade",
    "supervisor_id",
    "grantee_institution_id",
)
_PRODUCT = (
    "product_id",
    "product__generic_name",
    "product__brand_name",
    "product__registration_no",
    "product__kind",
    "product__registration_valid_until",
    "product__high_risk",
    "product__category",
    "product__dose_unit",
    "product__supplier_id",
)
# The supplier's distribution authorizations ride along (a LEFT JOIN: one row per authorization, or one
# row of NULLs), so no separate query is needed for them.
_WINDOWS = (
    "product__supplier__authorizations__pk",
    "product__supplier__authorizations__brand",
    "product__supplier__authorizations__valid_from",
    "product__supplier__authorizations__valid_until",
)
_LOT = (
    "pk",
    "lot_no",
    "institution_id",
    "expiry_date",
    "status",
    "recall_level",
    "institution__organization_id",
    *_PRODUCT,
    *_WINDOWS,
)
_DEVICE = (
    "pk",
    "serial_no",
    "udi",
    "institution_id",
    "status",
    "next_inspection_due",
    "next_calibration_due",
    "institution__organization_id",
    *_PRODUCT,
    *_WINDOWS,
)


# The loader's fixed queries, compiled once per shape (lib/fixedsql.py): plain rows, no ordering.
# The rules generation rides along as a last column, read in the same statement (so before the pack).
Q_INSTITUTION = FixedQuery(
    lambda pk: (
        Institution.objects.filter(pk=pk)
        .order_by()
        .annotate(_rules_gen=generation_subquery())
        .values_list(*INSTITUTION_COLUMNS, "_rules_gen")
    )
)
Q_PEOPLE = FixedQuery(
    lambda ids: Practitioner.objects.filter(pk__in=ids).order_by().values_list(*PERSON_COLUMNS)
)
Q_QUALIFICATIONS = FixedQuery(
    lambda ids: (
        Qualification.objects.filter(practitioner_id__in=ids).order_by().values_list(*QUALIFICATION_COLUMNS)
    )
)
Q_SITES = FixedQuery(
    lambda ids: PractitionerSite.objects.filter(practitioner_id__in=ids).order_by().values_list(*SITE_COLUMNS)
)
# The practitioner's and the anaesthetist's authorizations at the institution, and the technology
# authorizations that apply there: granted to it (grantee) or its own with no practitioner (institution-wide).
Q_AUTHORIZATIONS = FixedQuery(
    lambda ids, institution: (
        Authorization.objects.filter(
            Q(institution_id=institution, practitioner_id__in=ids)
            | Q(kind=AuthorizationKind.TECHNOLOGY, grantee_institution_id=institution)
            | Q(
                kind=AuthorizationKind.TECHNOLOGY,
                institution_id=institution,
                practitioner_id__isnull=True,
                grantee_institution_id__isnull=True,
            )
        )
        .order_by()
        .values_list(*AUTHORIZATION_COLUMNS)
    )
)


def institution_facts(inst: InstitutionRow | Institution) -> InstitutionFacts:
    """The engine's facts of an institution (a loader row or the model: anything with its fields)."""
    return InstitutionFacts(
        id=inst.pk,
        name=inst.name,
        status=inst.status,
        licence_valid_from=inst.licence_valid_from,
        licence_valid_until=inst.licence_valid_until,
        next_verification_due=inst.next_verification_due,
        subjects=frozenset(inst.subjects),
        province=inst.province,
        has_anesthesiology=inst.has_anesthesiology,
    )


def qualification_facts(q: tuple[Any, ...]) -> QualificationFacts:
    """A QUALIFICATION_COLUMNS row (its leading practitioner_id is skipped)."""
    return QualificationFacts(q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10])


def person_facts(
    row: tuple[Any, ...], sites: Iterable[SiteFacts], quals: Iterable[QualificationFacts]
) -> PractitionerFacts:
    pk, name, profession, status, scope, title, main_id, _org, since, main_province = row
    return PractitionerFacts(
        id=pk,
        name=name,
        profession=profession,
        status=status,
        practice_scopes=frozenset({scope} if scope else ()),
        title_rank=title_rank(title),
        main_institution_id=main_id,
        sites=tuple(sites),
        qualifications=tuple(quals),
        practising_since=since,
        main_province=main_province or "",
    )


def authorization_facts(a: tuple[Any, ...]) -> AuthorizationFacts:
    """An AUTHORIZATION_COLUMNS row. A technology granted to another institution applies at the grantee."""
    *head, grantee_id = a
    facts = AuthorizationFacts(*head)
    if facts.kind == AuthorizationKind.TECHNOLOGY and grantee_id is not None:
        facts = replace(facts, institution_id=grantee_id)
    return facts


Q_LOTS = FixedQuery(lambda ids: Lot.objects.filter(pk__in=ids).order_by().values_list(*_LOT))
Q_DEVICES = FixedQuery(lambda ids: DeviceModel.objects.filter(pk__in=ids).order_by().values_list(*_DEVICE))


def _load_people(req: DecisionRequest, rules_gen: int | None, *, memo: bool = True) -> People:
    """``rules_gen`` None: the one read with the institution. ``memo`` False: resolve the rule pack afresh."""
    rows = Q_INSTITUTION.run(req.institution_id)
    if not rows:
        raise NotFoundField("institution_id")
    inst = InstitutionRow(*rows[0][:-1])
    if rules_gen is None:
        rules_gen = rows[0][-1] or 0  # NULL: the generation row is missing (a flushed database)
    pack = (
        _pack(inst.province, inst.pk, req.on, rules_gen) if memo else resolve(inst.province, req.on, inst.pk)
    )
    if req.procedure_code not in pack.procedures:
        raise unknown_procedure(req.procedure_code)

    ids = people_ids(req)
    people = {row[0]: row for row in Q_PEOPLE.run(ids)}
    for field_name, pk in _people_fields(req):
        if pk and pk not in people:
            raise NotFoundField(field_name)
    quals: dict[int, list[QualificationFacts]] = {pk: [] for pk in people}
    for q in sorted(Q_QUALIFICATIONS.run(ids), key=lambda r: r[1]):
        quals[q[0]].append(qualification_facts(q))
    sites: dict[int, list[SiteFacts]] = {pk: [] for pk in people}
    site_orgs: dict[int, set[int]] = {pk: set() for pk in people}
    for s in sorted(Q_SITES.run(ids), key=lambda r: r[1]):
        sites[s[0]].append(SiteFacts(s[2], s[3], s[4]))
        site_orgs[s[0]].add(s[5])
    auth_ids = [req.practitioner_id] + ([req.anesthetist_id] if req.anesthetist_id else [])
    auths = tuple(
        authorization_facts(a)
        for a in sorted(Q_AUTHORIZATIONS.run(auth_ids, req.institution_id), key=lambda r: r[0])
    )

    def person(pk: int) -> PractitionerFacts:
        return person_facts(people[pk], sites[pk], quals[pk])

    visibility: list[tuple[str, frozenset[int]]] = [("institution_id", frozenset({inst.organization_id}))]
    for field_name, pk in _people_fields(req):
        if pk:
            visibility.append((field_name, frozenset({people[pk][7], *site_orgs[pk]})))
    return People(
        pack=pack,
        inst=inst,
        institution=institution_facts(inst),
        practitioner=person(req.practitioner_id),
        supervisor=person(req.supervisor_id) if req.supervisor_id else None,
        authorizations=auths,
        anesthetist=person(req.anesthetist_id) if req.anesthetist_id else None,
        visibility=tuple(visibility),
        rules_gen=rules_gen,
    )


def _people_fields(req: DecisionRequest) -> tuple[tuple[str, int | None], ...]:
    return (
        ("practitioner_id", req.practitioner_id),
        ("supervisor_id", req.supervisor_id),
        ("anesthetist_id", req.anesthetist_id),
    )


def people_ids(req: DecisionRequest) -> list[int]:
    """The practitioner, supervisor and anaesthetist ids of a request (once each, in that order)."""
    out: list[int] = []
    for _name, pk in _people_fields(req):
        if pk and pk not in out:
            out.append(pk)
    return out


def _product(row: tuple[Any, ...], windows: tuple[tuple[Any, Any], ...]) -> ProductFacts:
    pk, generic, brand_name, reg_no, kind, reg_until, high_risk, category, unit, supplier_id = row
    brand = brand_name or generic
    return ProductFacts(
        id=pk,
        name=f"{brand} ({reg_no})",
        brand=brand,
        kind=kind,
        registration_no=reg_no,
        registration_valid_until=reg_until,
        high_risk=high_risk,
        ingredient=category,
        dose_unit=unit,
        supplier_id=supplier_id,
        distribution_windows=windows,
    )


def _group(
    rows: list[tuple[Any, ...]], width: int
) -> list[tuple[tuple[Any, ...], tuple[tuple[Any, Any], ...]]]:
    """Fold the joined rows: one (row without window columns, the windows for the product's brand) per item."""
    by_item: dict[Any, tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = {}
    for r in rows:
        head, window = r[:width], r[width:]
        entry = by_item.setdefault(head[0], (head, []))
        if window[0] is not None:
            entry[1].append(window)
    out = []
    for head, windows in by_item.values():
        brand = head[-8] or head[-9]  # product brand_name, else generic_name
        mine = tuple((start, end) for _pk, b, start, end in sorted(windows, key=lambda w: w[0]) if b == brand)
        out.append((head, mine))
    return out


def load_items(lot_ids: list[int], device_ids: list[int]) -> dict[tuple[str, int], Item]:
    lots = _group(Q_LOTS.run(lot_ids), len(_LOT) - len(_WINDOWS)) if lot_ids else []
    devices = _group(Q_DEVICES.run(device_ids), len(_DEVICE) - len(_WINDOWS)) if device_ids else []
    out: dict[tuple[str, int], Item] = {}
    for r, windows in lots:
        product = _product(r[7:], windows)
        lot = LotFacts(
            id=r[0],
            lot_no=r[1],
            institution_id=r[2],
            expiry=r[3],
            status=r[4],
            recall_level=r[5],
            product=product,
        )
        encoded = encode(lot)
        out[("l", r[0])] = Item(lot, r[6], encoded, part_digest(encoded))
    for r, windows in devices:
        product = _product(r[8:], windows)
        device = DeviceFacts(
            id=r[0],
            serial=r[1] or r[2],
            institution_id=r[3],
            status=r[4],
            model=product.brand,
            next_inspection_due=r[5],
            next_calibration_due=r[6],
            product=product,
        )
        encoded = encode(device)
        out[("d", r[0])] = Item(device, r[7], encoded, part_digest(encoded))
    return out


# ---- loading -----------------------------------------------------------------------------------


def check_visible(actor: Actor, visibility: Iterable[tuple[str, frozenset[int]]]) -> None:
    """404 naming the first request field the actor may not see (foreign and unknown look the same)."""
    if actor.is_unrestricted:
        return
    readable = actor.readable_org_ids
    for field_name, orgs in visibility:
        if not orgs & readable:
            raise NotFoundField(field_name)


def load_for_log(
    actor: Actor, req: DecisionRequest, *, use_cache: bool = True, rules_gen: int | None = None
) -> Loaded:
    """The snapshot for ``req`` checked against what ``actor`` may see, with its JSON form and digest.

    ``rules_gen``: the rules generation read once by a caller deciding many requests (a batch); by default a
    warm request reads it (one query) and a cold one takes it from the institution query.
    """
    lot_ids = sorted({u.lot_id for u in req.products})
    device_ids = sorted(set(req.device_ids))
    person_ids = people_ids(req)
    gen_keys = [
        gen_key("catalog"),  # products, suppliers, distribution authorizations (registry writes)
        gen_key("i", req.institution_id),
        *(gen_key("p", p) for p in person_ids),
        *(gen_key("lot", pk) for pk in lot_ids),
        *(gen_key("dev", pk) for pk in device_ids),
    ]
    gens = cache.get_many(gen_keys) if use_cache else {}
    catalog_gen = gens.get(gen_keys[0], 0)

    people_key = (
        req.institution_id,
        req.practitioner_id,
        req.supervisor_id,
        req.anesthetist_id,
        req.on,
        tuple(gens.get(k, 0) for k in gen_keys[: 2 + len(person_ids)]),
    )
    people: People | None = snapshots.get(people_key) if use_cache else None
    if people is not None:
        if rules_gen is None:
            rules_gen = current_generation()
        if people.rules_gen != rules_gen:
            people = None  # a rule-pack version was published since: reload (rare)
    if people is None:
        people = _load_people(req, rules_gen, memo=use_cache)
        if use_cache:
            snapshots.put(people_key, people)
    check_visible(actor, people.visibility)
    facts, facts_encoded, facts_digest = people.facts_for(req.procedure_code)

    def item_key(kind: str, pk: int) -> tuple[str, int, int, int]:
        return (kind, pk, gens.get(gen_key("lot" if kind == "l" else "dev", pk), 0), catalog_gen)

    wanted = [("l", pk) for pk in lot_ids] + [("d", pk) for pk in device_ids]
    found: dict[tuple[str, int], Item] = {}
    missing: list[tuple[str, int]] = []
    for kind, pk in wanted:
        item = items.get(item_key(kind, pk)) if use_cache else None
        if item is None:
            missing.append((kind, pk))
        else:
            found[(kind, pk)] = item
    if missing:
        loaded = load_items([pk for k, pk in missing if k == "l"], [pk for k, pk in missing if k == "d"])
        for kind, pk in missing:
            item = loaded.get((kind, pk))
            if item is None:
                continue
            found[(kind, pk)] = item
            if use_cache:
                items.put(item_key(kind, pk), item)
    for i, use in enumerate(req.products):
        item = found.get(("l", use.lot_id))
        if item is None:
            raise NotFoundField(f"products[{i}].lot_id")
        check_visible(actor, ((f"products[{i}].lot_id", frozenset({item.organization_id})),))
    for i, device_id in enumerate(req.device_ids):
        item = found.get(("d", device_id))
        if item is None:
            raise NotFoundField(f"device_ids[{i}]")
        check_visible(actor, ((f"device_ids[{i}]", frozenset({item.organization_id})),))

    lot_items = [found[("l", pk)] for pk in lot_ids]
    device_items = [found[("d", pk)] for pk in device_ids]
    snap = Snapshot(
        pack=facts,
        institution=people.institution,
        practitioner=people.practitioner,
        supervisor=people.supervisor,
        authorizations=people.authorizations,
        lots=tuple(i.facts for i in lot_items),  # type: ignore[misc]
        devices=tuple(i.facts for i in device_items),  # type: ignore[misc]
        anesthetist=people.anesthetist,
    )
    people.encode_once()
    digest = combine_digests(
        facts_digest, people.digest, [i.digest for i in lot_items], [i.digest for i in device_items]
    )
    encoded = {
        "pack": facts_encoded,
        **people.encoded,
        "lots": [i.encoded for i in lot_items],
        "devices": [i.encoded for i in device_items],
    }
    return Loaded(snap, encoded, digest, facts_digest, people.inst.organization_id)


@dataclass(frozen=True, slots=True)
class Loaded:
    snapshot: Snapshot
    encoded: dict[str, Any]  # its JSON form, stored once per distinct content
    digest: str  # == codec.snapshot_digest(encoded)
    pack_digest: str = ""  # == codec.part_digest(encoded["pack"]): the shared rule-pack part, stored apart
    organization_id: int = 0  # the institution's organisation: whose staff may record this check


def load(
    actor: Actor, req: DecisionRequest, *, use_cache: bool = True, rules_gen: int | None = None
) -> Snapshot:
    """The snapshot for ``req``, checked against what ``actor`` may see."""
    return load_for_log(actor, req, use_cache=use_cache, rules_gen=rules_gen).snapshot
