"""Build the engine's snapshot from the database in a fixed number of queries, and cache hot snapshots.

Cold path (whatever the data size): institution 1, practitioners (+ supervisor) 1, their qualifications 1,
their multi-site registrations 1, authorizations 1, lots 1 and devices 1 (only when asked for), supplier
distribution authorizations 1 (only with products or devices), and the rule pack (1 when its build is cached).

Warm path: zero queries. A cached entry is keyed by the ids asked for, the China calendar day, and
*generations* of the institution, the practitioner(s) and the catalog, kept in Django's cache. Every
relevant write bumps a generation on commit (``authz/signals.py``), so the next request misses and reloads.
Access is checked on every request, warm or cold, against the organisations recorded with the snapshot.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.registry.models import Device as DeviceModel
from meiguard.registry.models import (
    DistributionAuthorization,
    Institution,
    Lot,
    Practitioner,
    PractitionerSite,
    Qualification,
)
from meiguard.rules.choices import TITLE_RANK, Title
from meiguard.rules.services import ResolvedPack, RuleRef, resolve

from .facts import (
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
MAX_ENTRIES = 20_000


# ---- generations -----------------------------------------------------------------------------


def gen_key(kind: str, pk: int | None = None) -> str:
    return f"authz:gen:{kind}" if pk is None else f"authz:gen:{kind}:{pk}"


def bump(keys: Iterable[str]) -> None:
    for key in keys:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, GEN_TIMEOUT)


# ---- the in-process snapshot cache -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    snapshot: Snapshot
    # For each request field, the organisations whose members may see it (checked on every hit).
    visibility: tuple[tuple[str, frozenset[int]], ...]


class SnapshotCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._data: OrderedDict[tuple[object, ...], Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[object, ...]) -> Entry | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple[object, ...], entry: Entry) -> None:
        with self._lock:
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0


snapshots = SnapshotCache()


def _cache_key(req: DecisionRequest) -> tuple[tuple[object, ...], list[str]]:
    people = [req.practitioner_id] + ([req.supervisor_id] if req.supervisor_id else [])
    gen_keys = [gen_key("i", req.institution_id), gen_key("catalog"), *(gen_key("p", p) for p in people)]
    gens = cache.get_many(gen_keys)
    key = (
        req.institution_id,
        req.practitioner_id,
        req.supervisor_id,
        req.procedure_code,
        req.on,
        tuple(sorted({u.lot_id for u in req.products})),
        tuple(sorted(set(req.device_ids))),
        tuple(gens.get(k, 0) for k in gen_keys),
    )
    return key, gen_keys


def check_visible(actor: Actor, req: DecisionRequest, entry: Entry) -> None:
    """404 naming the first request field the actor may not see (foreign and unknown look the same)."""
    if actor.is_unrestricted:
        return
    readable = actor.readable_org_ids
    for field_name, orgs in entry.visibility:
        if not orgs & readable:
            raise NotFoundField(field_name)


def load(actor: Actor, req: DecisionRequest, *, use_cache: bool = True) -> Snapshot:
    """The snapshot for ``req``, checked against what ``actor`` may see."""
    key, _ = _cache_key(req) if use_cache else ((), [])
    entry = snapshots.get(key) if use_cache else None
    if entry is None:
        entry = build(req)
        if use_cache:
            snapshots.put(key, entry)
    check_visible(actor, req, entry)
    return entry.snapshot


# ---- building from the database --------------------------------------------------------------


def _ref(pack: ResolvedPack, rule_id: str, fallback_source: str) -> RuleRef:
    rule = pack.rules.get(rule_id)
    if rule is not None:
        return rule.ref
    return RuleRef(pack.national.pack, pack.national.version, rule_id, fallback_source)


def _title_rank(title: str) -> int:
    try:
        return TITLE_RANK.get(Title(title), 0)
    except ValueError:
        return 0


def pack_facts(pack: ResolvedPack, institution: Institution, procedure_code: str) -> PackFacts:
    try:
        proc = pack.procedure(procedure_code)
    except KeyError:
        raise NotFoundField("procedure_code") from None
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
            min_title_rank=_title_rank(chief_req.min_title),
            rule=chief_req.rules[0],
        )
    except KeyError:
        chief = None
    supervision = pack.supervision_for("doctor", proc.subject)
    nurse_ok_rule = next(iter(pack.rules_of("nurse_scope")), None)
    nurse_hours = pack.requirement("nurse_training_hours")
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
        ),
        permitted_grade=grade.grade,
        grade_rule=grade.rule,
        chief=chief,
        supervision_rule=supervision.ref if supervision else _ref(pack, "PR-03.non-chief", "PR-03 [S01]"),
        nurse_allowed_invasive=frozenset(nurse_ok_rule.data["may_perform"]) if nurse_ok_rule else frozenset(),
        nurse_rule=nurse_ok_rule.ref if nurse_ok_rule else _ref(pack, "PR-07.nurse", "PR-07 [S01][S05]"),
        nurse_min_training_hours=Decimal(str(nurse_hours.value)) if nurse_hours else Decimal(0),
        nurse_training_rule=nurse_hours.rule
        if nurse_hours
        else _ref(pack, "INST.nurse-training-hours", "seed 004"),
        authorization_rule=_ref(pack, "SP-02.privileging", "SP-02 [S23] 手术分级管理/新技术准入"),
        product_rule=_ref(pack, "DD-07.registered-products", "DD-07 [S19]; DD-09 [S21]"),
        device_rule=_ref(pack, "DD-07.device-use", "DD-07 [S19]; S20"),
        dose_limits=dose_limits,
        duration_limits=duration_limits,
    )


def _practitioner_facts(
    p: Practitioner, quals: list[Qualification], sites: list[PractitionerSite]
) -> PractitionerFacts:
    return PractitionerFacts(
        id=p.pk,
        name=p.name,
        profession=p.profession,
        status=p.status,
        practice_scopes=frozenset({p.practice_scope} if p.practice_scope else ()),
        title_rank=_title_rank(p.title),
        main_institution_id=p.main_institution_id,
        sites=tuple(SiteFacts(s.institution_id, s.valid_from, s.valid_until) for s in sites),
        qualifications=tuple(
            QualificationFacts(
                id=q.pk,
                kind=q.kind,
                subject=q.subject,
                valid_from=q.valid_from,
                valid_until=q.valid_until,
                verification_status=q.verification_status,
                qualifying_years=q.qualifying_years,
                hours=q.hours,
                reference=q.product_reference,
            )
            for q in quals
        ),
    )


def _product_facts(
    product, windows: dict[tuple[int, str], list[tuple[dt.date | None, dt.date | None]]]
) -> ProductFacts:  # type: ignore[no-untyped-def]
    brand = product.brand_name or product.generic_name
    return ProductFacts(
        id=product.pk,
        name=str(product),
        brand=brand,
        kind=product.kind,
        registration_no=product.registration_no,
        registration_valid_until=product.registration_valid_until,
        high_risk=product.high_risk,
        ingredient=product.category,
        dose_unit=product.dose_unit,
        supplier_id=product.supplier_id,
        distribution_windows=tuple(windows.get((product.supplier_id, brand), ())),
    )


def build(req: DecisionRequest) -> Entry:
    institution = (
        Institution.objects.filter(pk=req.institution_id)
        .only(
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
        .first()
    )
    if institution is None:
        raise NotFoundField("institution_id")
    pack = resolve(institution.province, req.on)
    facts = pack_facts(pack, institution, req.procedure_code)

    people_ids = [req.practitioner_id] + ([req.supervisor_id] if req.supervisor_id else [])
    people = {
        p.pk: p
        for p in Practitioner.objects.filter(pk__in=people_ids)
        .select_related("main_institution")
        .only(
            "pk",
            "name",
            "profession",
            "status",
            "practice_scope",
            "title",
            "main_institution_id",
            "main_institution__organization_id",
        )
    }
    if req.practitioner_id not in people:
        raise NotFoundField("practitioner_id")
    if req.supervisor_id and req.supervisor_id not in people:
        raise NotFoundField("supervisor_id")
    quals: dict[int, list[Qualification]] = {pk: [] for pk in people}
    for q in Qualification.objects.filter(practitioner_id__in=people_ids).order_by("pk"):
        quals[q.practitioner_id].append(q)
    sites: dict[int, list[PractitionerSite]] = {pk: [] for pk in people}
    site_orgs: dict[int, set[int]] = {pk: set() for pk in people}
    for s in (
        PractitionerSite.objects.filter(practitioner_id__in=people_ids)
        .select_related("institution")
        .only(
            "pk",
            "practitioner_id",
            "institution_id",
            "valid_from",
            "valid_until",
            "institution__organization_id",
        )
        .order_by("pk")
    ):
        sites[s.practitioner_id].append(s)
        site_orgs[s.practitioner_id].add(s.institution.organization_id)

    authorizations = tuple(
        AuthorizationFacts(
            id=a.pk,
            kind=a.kind,
            institution_id=a.institution_id,
            practitioner_id=a.practitioner_id,
            status=a.status,
            valid_from=a.valid_from,
            valid_until=a.valid_until,
            procedure_code=a.procedure_code,
            procedure_category=a.procedure_category,
            subject=a.subject,
            product_brand=a.product_brand,
            device_model=a.device_model,
            max_grade=a.max_grade,
            supervisor_id=a.supervisor_id,
        )
        for a in Authorization.objects.filter(
            practitioner_id=req.practitioner_id, institution_id=req.institution_id
        ).order_by("pk")
    )

    lot_ids = sorted({u.lot_id for u in req.products})
    lots = (
        list(Lot.objects.filter(pk__in=lot_ids).select_related("product", "institution")) if lot_ids else []
    )
    devices = (
        list(DeviceModel.objects.filter(pk__in=req.device_ids).select_related("product", "institution"))
        if req.device_ids
        else []
    )
    windows: dict[tuple[int, str], list[tuple[dt.date | None, dt.date | None]]] = {}
    products = [lot.product for lot in lots] + [d.product for d in devices]
    if products:
        supplier_ids = {p.supplier_id for p in products}
        for d in DistributionAuthorization.objects.filter(supplier_id__in=supplier_ids).order_by("pk"):
            windows.setdefault((d.supplier_id, d.brand), []).append((d.valid_from, d.valid_until))

    lot_by_id = {lot.pk: lot for lot in lots}
    device_by_id = {d.pk: d for d in devices}
    visibility: list[tuple[str, frozenset[int]]] = [
        ("institution_id", frozenset({institution.organization_id})),
    ]
    for field_name, pk in (("practitioner_id", req.practitioner_id), ("supervisor_id", req.supervisor_id)):
        if pk:
            person = people[pk]
            visibility.append(
                (field_name, frozenset({person.main_institution.organization_id, *site_orgs[pk]}))
            )
    for i, use in enumerate(req.products):
        lot = lot_by_id.get(use.lot_id)
        if lot is None:
            raise NotFoundField(f"products[{i}].lot_id")
        visibility.append((f"products[{i}].lot_id", frozenset({lot.institution.organization_id})))
    for i, device_id in enumerate(req.device_ids):
        device = device_by_id.get(device_id)
        if device is None:
            raise NotFoundField(f"device_ids[{i}]")
        visibility.append((f"device_ids[{i}]", frozenset({device.institution.organization_id})))

    snapshot = Snapshot(
        pack=facts,
        institution=InstitutionFacts(
            id=institution.pk,
            name=institution.name,
            status=institution.status,
            licence_valid_from=institution.licence_valid_from,
            licence_valid_until=institution.licence_valid_until,
            next_verification_due=institution.next_verification_due,
            subjects=frozenset(institution.subjects),
            province=institution.province,
        ),
        practitioner=_practitioner_facts(
            people[req.practitioner_id], quals[req.practitioner_id], sites[req.practitioner_id]
        ),
        supervisor=(
            _practitioner_facts(people[req.supervisor_id], quals[req.supervisor_id], sites[req.supervisor_id])
            if req.supervisor_id
            else None
        ),
        authorizations=authorizations,
        lots=tuple(
            LotFacts(
                id=lot.pk,
                lot_no=lot.lot_no,
                institution_id=lot.institution_id,
                expiry=lot.expiry_date,
                status=lot.status,
                recall_level=lot.recall_level,
                product=_product_facts(lot.product, windows),
            )
            for lot in lots
        ),
        devices=tuple(
            DeviceFacts(
                id=d.pk,
                serial=d.serial_no or d.udi,
                institution_id=d.institution_id,
                status=d.status,
                model=d.product.brand_name or d.product.generic_name,
                next_inspection_due=d.next_inspection_due,
                next_calibration_due=d.next_calibration_due,
                product=_product_facts(d.product, windows),
            )
            for d in devices
        ),
    )
    return Entry(snapshot=snapshot, visibility=tuple(visibility))
