"""Every read of the public side. What is shown is what a public register would show, never more.

These reads are not scoped to an actor: the facts they return are public by nature (a licence register, a
published price list, the genuineness of a product). Each function selects only the public columns
(``values``/``only``), so an ID number, a phone number or an address never leaves the database on this path.
What a public page shows about a person is listed in docs/public.md (the 医师/护士执业注册 public query:
name, profession, category, scope, practising institution, title, licence state — no ID number, no licence
number, no contact details).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.authz import snapshot as snapshots
from meiguard.authz.actions import as_request
from meiguard.authz.facts import ProductUse
from meiguard.authz.policy import Outcome, Severity, decide
from meiguard.authz.reasons import reason_message
from meiguard.clinical.models import Case, ProcedurePrice, Usage
from meiguard.clinical.scan import parse_gs1
from meiguard.core.access import Actor
from meiguard.core.errors import FieldErrors
from meiguard.inventory.choices import LineStatus, TraceCodeStatus
from meiguard.inventory.models import ReceiptLine, TraceCode
from meiguard.lib.fixedsql import FixedQuery
from meiguard.registry.choices import (
    InstitutionStatus,
    LotStatus,
    PractitionerStatus,
    QualificationKind,
    VerificationStatus,
)
from meiguard.registry.models import Institution, Lot, Practitioner, PractitionerSite, Product, Qualification
from meiguard.registry.queries import permitted_grade
from meiguard.rules.choices import PracticeCategory, Profession, Subject, Title
from meiguard.rules.services import NoActivePack, current_generation, resolve

from . import cache as page_cache
from .models import PriceChange

PAGE_SIZE = 20
PUBLIC_ACTOR = Actor.system("public")  # reads the engine's snapshot; the decision is never logged
INSTITUTION_COLUMNS = (
    "pk",
    "name",
    "city",
    "province",
    "institution_type",
    "hospital_level",
    "licence_kind",
    "licence_no",
    "licence_valid_from",
    "licence_valid_until",
    "next_verification_due",
    "subjects",
    "status",
    "has_anesthesiology",
)


def today() -> dt.date:
    return timezone.localdate()


@dataclass
class Check:
    """One line of a verification: a label, passed (True), failed (False) or unknown (None), and a detail."""

    label: str
    ok: bool | None
    detail: str = ""


def _subject_labels(codes: Any) -> list[str]:
    labels = dict(Subject.choices)
    return [str(labels.get(c, c)) for c in (codes or [])]


# ---- institutions --------------------------------------------------------------------------------


def directory(*, q: str = "", city: str = "", page: int = 1) -> Page:
    qs = Institution.objects.only(*INSTITUTION_COLUMNS).order_by("name", "pk")
    if q:
        qs = qs.filter(name__icontains=q)
    if city:
        qs = qs.filter(Q(city__icontains=city) | Q(province__icontains=city))
    return Paginator(qs, PAGE_SIZE).get_page(page)


def cities() -> list[str]:
    return sorted(set(Institution.objects.values_list("city", flat=True)))


@dataclass
class PriceRow:
    code: str
    name: str
    subject: str
    grade: int | None
    price: Decimal
    published_at: dt.datetime
    history: list[PriceChange] = field(default_factory=list)


@dataclass
class InstitutionView:
    institution: Institution
    licence_valid: bool
    verification_overdue: bool
    subjects: list[str]
    grade: Any  # registry.queries.PermittedGrade
    prices: list[PriceRow]


def _procedure_names(inst: Institution) -> dict[str, Any]:
    try:
        return dict(resolve(inst.province, today(), inst.pk).procedures)
    except NoActivePack:
        return {}


def _procedure_name(proc: Any, code: str, english: bool) -> str:
    if proc is None:
        return code
    return str(proc.name_en if english and proc.name_en else proc.name_zh)


def institution(pk: int, *, english: bool = False) -> InstitutionView | None:
    """An institution's public page: licence, permitted grade, subjects, price list with each change."""
    inst = Institution.objects.only(*INSTITUTION_COLUMNS).filter(pk=pk).first()
    if inst is None:
        return None
    on = today()
    procs = _procedure_names(inst)
    history: dict[str, list[PriceChange]] = {}
    for change in (
        PriceChange.objects.filter(institution_id=pk)
        .only("procedure_code", "old_price", "new_price", "changed_at")
        .order_by("-changed_at", "-pk")[:200]
    ):
        history.setdefault(change.procedure_code, []).append(change)
    prices = []
    for row in ProcedurePrice.objects.filter(institution_id=pk).only(
        "procedure_code", "price", "published_at"
    ):
        proc = procs.get(row.procedure_code)
        prices.append(
            PriceRow(
                code=row.procedure_code,
                name=_procedure_name(proc, row.procedure_code, english),
                subject=_subject_labels([proc.subject])[0] if proc is not None else "",
                grade=getattr(proc, "grade", None),
                price=row.price,
                published_at=row.published_at,
                history=history.get(row.procedure_code, [])[:5],
            )
        )
    prices.sort(key=lambda p: (p.subject, p.grade or 0, p.name))
    return InstitutionView(
        institution=inst,
        licence_valid=inst.is_licence_valid(on) and inst.status == InstitutionStatus.ACTIVE,
        verification_overdue=inst.verification_overdue(on),
        subjects=_subject_labels(inst.subjects),
        grade=permitted_grade(inst, on),
        prices=prices,
    )


# ---- practitioners -------------------------------------------------------------------------------


@dataclass
class PersonView:
    name: str
    profession: str
    category: str
    scope: str
    title: str
    status: str
    active: bool
    licence: Check
    chief_subjects: list[str]
    institutions: list[str]


def _licence_check(kind: str, quals: list[Qualification], on: dt.date) -> Check:
    usable = [q for q in quals if q.kind == kind and q.verification_status != VerificationStatus.REJECTED]
    if not usable:
        return Check(_("执业注册"), False, _("未登记执业证书"))
    current = [
        q
        for q in usable
        if (q.valid_from is None or q.valid_from <= on) and (q.valid_until is None or on <= q.valid_until)
    ]
    if not current:
        return Check(_("执业注册"), False, _("执业证书已过有效期"))
    until = max((q.valid_until for q in current if q.valid_until), default=None)
    detail = _("有效期至 %(d)s") % {"d": until.isoformat()} if until else _("长期有效")
    return Check(_("执业注册"), True, detail)


def person_views(people: list[Practitioner]) -> list[PersonView]:
    """Public facts of practitioners (two queries for any number: qualifications, then sites)."""
    on = today()
    ids = [p.pk for p in people]
    quals: dict[int, list[Qualification]] = {}
    for q in Qualification.objects.filter(practitioner_id__in=ids).only(
        "practitioner_id", "kind", "subject", "valid_from", "valid_until", "verification_status"
    ):
        quals.setdefault(q.practitioner_id, []).append(q)
    sites: dict[int, list[str]] = {}
    for pid, name in (
        PractitionerSite.objects.filter(practitioner_id__in=ids)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on), valid_from__lte=on)
        .values_list("practitioner_id", "institution__name")
    ):
        sites.setdefault(pid, []).append(name)
    labels = {
        "profession": dict(Profession.choices),
        "category": dict(PracticeCategory.choices),
        "title": dict(Title.choices),
        "status": dict(PractitionerStatus.choices),
    }
    out = []
    for p in people:
        mine = quals.get(p.pk, [])
        kind = (
            QualificationKind.NURSE_REGISTRATION
            if p.profession == Profession.NURSE
            else QualificationKind.PRACTICE_LICENCE
        )
        chief = sorted(
            {
                q.subject
                for q in mine
                if q.kind == QualificationKind.CHIEF_PHYSICIAN_FILING
                and q.verification_status != VerificationStatus.REJECTED
                and (q.valid_until is None or on <= q.valid_until)
            }
        )
        out.append(
            PersonView(
                name=p.name,
                profession=str(labels["profession"].get(p.profession, p.profession)),
                category=str(labels["category"].get(p.practice_category, p.practice_category)),
                scope=p.practice_scope,
                title=str(labels["title"].get(p.title, p.title)) if p.title != Title.NONE else "",
                status=str(labels["status"].get(p.status, p.status)),
                active=p.status == PractitionerStatus.ACTIVE,
                licence=_licence_check(kind, mine, on),
                chief_subjects=_subject_labels(chief),
                institutions=[p.main_institution.name, *sites.get(p.pk, [])],
            )
        )
    return out


PERSON_COLUMNS = (
    "pk",
    "name",
    "profession",
    "practice_category",
    "practice_scope",
    "title",
    "status",
    "main_institution__name",
)


def find_people(*, name: str, institution_id: int | None = None) -> list[PersonView]:
    """The register's query: an exact name, optionally at one institution (main or registered site)."""
    qs = (
        Practitioner.objects.select_related("main_institution")
        .only(*PERSON_COLUMNS)
        .filter(name=name)
        .exclude(status=PractitionerStatus.LEFT)
    )
    if institution_id:
        qs = qs.filter(Q(main_institution_id=institution_id) | Q(sites__institution_id=institution_id))
    return person_views(list(qs.distinct().order_by("pk")[:20]))


def institution_choices() -> list[tuple[int, str]]:
    return list(Institution.objects.order_by("name", "pk").values_list("pk", "name"))


# ---- products ------------------------------------------------------------------------------------


@dataclass
class ProductView:
    name: str
    registration_no: str
    lot_no: str
    expiry: dt.date | None
    checks: list[Check]
    received_by: list[str] = field(default_factory=list)
    used: bool = False
    used_at_institution: str = ""

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)


def _product_name(product: Product) -> str:
    return (
        f"{product.brand_name} {product.generic_name}".strip() if product.brand_name else product.generic_name
    )


def _lot_checks(product: Product, lot_no: str, expiry: dt.date | None, on: dt.date) -> list[Check]:
    recalled = Lot.objects.filter(product=product, lot_no=lot_no, status=LotStatus.RECALLED).exists()
    checks = [
        Check(
            _("产品注册证在有效期内"),
            product.is_registration_valid(on),
            _("注册证 %(no)s,有效期至 %(d)s")
            % {"no": product.registration_no, "d": product.registration_valid_until.isoformat()},
        ),
    ]
    if expiry is not None:
        checks.append(Check(_("批次未过期"), expiry >= on, _("失效日期 %(d)s") % {"d": expiry.isoformat()}))
    checks.append(Check(_("批次未被召回"), not recalled, _("已被召回") if recalled else ""))
    return checks


def _receivers(lot_ids: list[int]) -> list[str]:
    """Institutions that accepted this lot at arrival (every arrival check passed, incl. the supplier's
    distribution authorization)."""
    return sorted(
        set(
            ReceiptLine.objects.filter(lot_id__in=lot_ids, status=LineStatus.ACCEPTED).values_list(
                "receipt__institution__name", flat=True
            )
        )
    )


def _received_check(receivers: list[str]) -> Check:
    if receivers:
        return Check(_("经授权供应商验收入库"), True, "、".join(receivers))
    return Check(_("经授权供应商验收入库"), False, _("未查到任何机构的验收入库记录"))


def verify_code(code: str) -> ProductView:
    """A scanned or typed code: a 20-digit drug trace code, or a GS1 UDI (parsed as inventory does)."""
    text = (code or "").strip()
    on = today()
    if text.isdigit() and len(text) == 20:
        row = (
            TraceCode.objects.select_related("lot__product", "institution")
            .only(
                "status",
                "institution__name",
                "lot__lot_no",
                "lot__expiry_date",
                "lot__status",
                "lot__product",
            )
            .filter(code=text)
            .first()
        )
        if row is None:
            return ProductView(
                name="",
                registration_no="",
                lot_no="",
                expiry=None,
                checks=[
                    Check(_("追溯码已登记"), False, _("未查到该追溯码:可能不是正品,请向机构或监管部门核实"))
                ],
            )
        product = row.lot.product
        checks = _lot_checks(product, row.lot.lot_no, row.lot.expiry_date, on)
        checks.append(_received_check([row.institution.name]))
        used = row.status == TraceCodeStatus.USED
        checks.append(
            Check(
                _("此包装未被使用过"),
                not used and row.status != TraceCodeStatus.SCRAPPED,
                _("已使用(%(inst)s)") % {"inst": row.institution.name}
                if used
                else (_("已报废") if row.status == TraceCodeStatus.SCRAPPED else ""),
            )
        )
        return ProductView(
            name=_product_name(product),
            registration_no=product.registration_no,
            lot_no=row.lot.lot_no,
            expiry=row.lot.expiry_date,
            checks=checks,
            received_by=[row.institution.name],
            used=used,
            used_at_institution=row.institution.name if used else "",
        )
    scanned = parse_gs1(text, field="code")
    product = Product.objects.filter(udi_di=scanned.gtin).first()
    if product is None:
        return ProductView(
            name="",
            registration_no="",
            lot_no=scanned.lot,
            expiry=scanned.expiry,
            checks=[
                Check(_("产品已注册登记"), False, _("未查到该产品标识(GTIN %(g)s)") % {"g": scanned.gtin})
            ],
        )
    lots = (
        list(Lot.objects.filter(product=product, lot_no=scanned.lot).only("pk", "expiry_date"))
        if scanned.lot
        else []
    )
    expiry = scanned.expiry or (lots[0].expiry_date if lots else None)
    checks = (
        _lot_checks(product, scanned.lot, expiry, on)
        if scanned.lot
        else [
            Check(
                _("产品注册证在有效期内"),
                product.is_registration_valid(on),
                _("注册证 %(no)s,有效期至 %(d)s")
                % {"no": product.registration_no, "d": product.registration_valid_until.isoformat()},
            )
        ]
    )
    receivers = _receivers([lot.pk for lot in lots])
    if scanned.lot:
        checks.append(_received_check(receivers))
    used_at = ""
    if scanned.serial and lots:
        used_at = (
            Usage.objects.filter(lot_id__in=[lot.pk for lot in lots], unit_serial=scanned.serial)
            .values_list("institution__name", flat=True)
            .first()
            or ""
        )
        checks.append(
            Check(
                _("此包装未被使用过"),
                not used_at,
                _("已使用(%(inst)s)") % {"inst": used_at} if used_at else "",
            )
        )
    return ProductView(
        name=_product_name(product),
        registration_no=product.registration_no,
        lot_no=scanned.lot,
        expiry=expiry,
        checks=checks,
        received_by=receivers,
        used=bool(used_at),
        used_at_institution=used_at,
    )


# ---- the case behind a QR code -------------------------------------------------------------------


@dataclass
class Verdict:
    outcome: str
    ok: bool
    reasons: list[tuple[str, str, bool]]  # (message, code, is_denial)


@dataclass
class CaseView:
    case: Case
    institution: InstitutionView
    doctor: PersonView | None
    procedure_subject: str
    verdict: Verdict
    products: list[ProductView]

    @property
    def ok(self) -> bool:
        return (
            self.verdict.ok
            and self.institution.licence_valid
            and (self.doctor is None or self.doctor.licence.ok is True)
            and all(p.ok for p in self.products)
        )


def _case_products(case: Case, on: dt.date) -> tuple[list[ProductView], list[ProductUse], list[int]]:
    """Each product recorded on the case (lot and unit), with its checks; the engine's product uses."""
    usages = list(
        Usage.objects.filter(case_id=case.pk)
        .select_related("lot__product", "device__product")
        .only(
            "pk",
            "unit_serial",
            "dose_value",
            "dose_unit",
            "minutes",
            "lot__lot_no",
            "lot__expiry_date",
            "lot__product",
            "device__serial_no",
            "device__product",
        )
        .order_by("created_at", "pk")
    )
    lot_ids = sorted({u.lot_id for u in usages if u.lot_id})
    receivers: dict[int, list[str]] = {}
    for lot_id, name in ReceiptLine.objects.filter(
        lot_id__in=lot_ids, status=LineStatus.ACCEPTED
    ).values_list("lot_id", "receipt__institution__name"):
        receivers.setdefault(lot_id, []).append(name)
    codes = {
        t.usage_id: t
        for t in TraceCode.objects.filter(usage_id__in=[u.pk for u in usages]).only(
            "usage_id", "code", "status"
        )
    }
    views: list[ProductView] = []
    uses: list[ProductUse] = []
    devices: list[int] = []
    for u in usages:
        if u.lot is None:
            if u.device_id:
                devices.append(u.device_id)
            continue
        uses.append(ProductUse(u.lot_id, u.dose_value, u.dose_unit or None, u.minutes))  # type: ignore[arg-type]
        checks = _lot_checks(u.lot.product, u.lot.lot_no, u.lot.expiry_date, on)
        checks.append(_received_check(sorted(set(receivers.get(u.lot_id, [])))))  # type: ignore[arg-type]
        code = codes.get(u.pk)
        if code is not None:
            # The unit's trace code was claimed by this very usage: it had never been used before.
            checks.append(Check(_("此包装未被使用过"), True, _("追溯码已核对,仅本次使用")))
        views.append(
            ProductView(
                name=_product_name(u.lot.product),
                registration_no=u.lot.product.registration_no,
                lot_no=u.lot.lot_no,
                expiry=u.lot.expiry_date,
                checks=checks,
            )
        )
    return views, uses, devices


def case_view(case_id: int, *, english: bool = False) -> CaseView | None:
    case = (
        Case.objects.select_related("operator__main_institution")
        .only(
            "pk",
            "status",
            "institution_id",
            "procedure_code",
            "procedure_name",
            "grade",
            "anesthesia",
            "operator_id",
            "anesthetist_id",
            *(f"operator__{c}" for c in PERSON_COLUMNS[1:]),
        )
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        return None
    inst = institution(case.institution_id, english=english)
    assert inst is not None
    on = today()
    products, uses, devices = _case_products(case, on)
    req = as_request(
        institution_id=case.institution_id,
        practitioner_id=case.operator_id,
        procedure_code=case.procedure_code,
        products=tuple(uses),
        device_ids=tuple(devices),
        anesthetist_id=case.anesthetist_id,
        anesthesia=case.anesthesia or None,
    )
    # The engine's own verdict, as an unrecorded simulation (nothing is written to the decision log).
    decision = decide(req, snapshots.load(PUBLIC_ACTOR, req))
    reasons = [(reason_message(r), r.code, r.severity == Severity.DENY) for r in decision.reasons]
    verdict = Verdict(str(decision.outcome), decision.outcome != Outcome.DENY, reasons)
    doctor = person_views([case.operator])[0] if case.operator_id else None
    procs = _procedure_names(inst.institution)
    proc = procs.get(case.procedure_code)
    return CaseView(
        case=case,
        institution=inst,
        doctor=doctor,
        procedure_subject=_subject_labels([proc.subject])[0] if proc is not None else "",
        verdict=verdict,
        products=products,
    )


# Compiled once (``lib.fixedsql``): building these two querysets would cost more than running them.
_Q_CASE = FixedQuery(
    lambda pk: Case.objects.filter(pk=pk).values_list(
        "institution_id", "operator_id", "anesthetist_id", "status", "updated_at"
    )
)
_Q_USED = FixedQuery(
    lambda pk: Usage.objects.filter(case_id=pk).order_by("pk").values_list("pk", "lot_id", "device_id")
)


def case_fingerprint(case_id: int) -> str | None:
    """What the case page depends on, cheaply (two indexed reads and one cache round trip): the case row, its
    recorded products, the engine's cache generations of the institution, the people, the lots and devices
    (bumped on every registry/authorization write, e.g. a recall), the rules generation and the day. A page
    rendered under the same fingerprint is the same page; None when the case does not exist."""
    rows = _Q_CASE.run(int(case_id))
    if not rows:
        return None
    row = rows[0]
    inst_id, operator_id, anesthetist_id, status, updated_at = row
    used = _Q_USED.run(int(case_id))
    keys = [
        snapshots.gen_key("catalog"),
        snapshots.gen_key("i", inst_id),
        *(snapshots.gen_key("p", pk) for pk in (operator_id, anesthetist_id) if pk),
        *(snapshots.gen_key("lot", lot) for _pk, lot, _dev in used if lot),
        *(snapshots.gen_key("dev", dev) for _pk, _lot, dev in used if dev),
    ]
    gens = page_cache.generations(keys)
    parts = [
        str(case_id),
        status,
        updated_at.isoformat(),
        ",".join(str(pk) for pk, _lot, _dev in used),
        ",".join(str(gens.get(k, 0)) for k in keys),
        str(current_generation()),
        today().isoformat(),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def clean_code(raw: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise FieldErrors({"code": [_("请扫描或输入产品条码/追溯码")]})
    if len(text) > 128:
        raise FieldErrors({"code": [_("长度不能超过 %(n)s") % {"n": 128}]})
    return text
