"""Registry JSON API (mounted at /api/v1/registry): list (filters + limit/offset), retrieve, create, update.

Handlers only parse, call one query or action and shape the output. Errors use the envelope in
``core.apierrors``; unknown or foreign ids are 404s that name the path or body field.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import File, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorOut, FilterIn, In
from meiguard.rules.choices import (
    HospitalLevel,
    InstitutionType,
    PracticeCategory,
    Profession,
    Subject,
    Title,
)

from . import actions, queries
from .choices import (
    CreditClass,
    DeviceStatus,
    DoseUnit,
    InstitutionStatus,
    LicenceKind,
    LotStatus,
    PractitionerStatus,
    ProductCategory,
    ProductKind,
    QualificationKind,
    RiskClass,
    SiteRequestStatus,
    VerificationStatus,
)
from .models import (
    Device,
    DistributionAuthorization,
    Institution,
    Lot,
    Practitioner,
    PractitionerSite,
    PractitionerSiteRequest,
    Product,
    Qualification,
    Supplier,
)

router = Router(tags=["registry"])

# Optional text fields that are stored as "" rather than NULL.
_BLANK_TEXT = {
    "hospital_level",
    "licence_no",
    "practice_category",
    "practice_scope",
    "subject",
    "issuer",
    "number",
    "product_reference",
    "credit_class",
    "brand_name",
    "risk_class",
    "note",
    "serial_no",
    "udi",
}


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


def _values(payload: Schema, *, exclude_unset: bool = False, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Schema → plain keyword arguments for an action (enum members → values, None → "" for text)."""
    data = payload.dict(exclude_unset=exclude_unset)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in drop:
            continue
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, list):
            value = [v.value if isinstance(v, Enum) else v for v in value]
        if value is None and key in _BLANK_TEXT:
            value = ""
        out[key] = value
    return out


@contextmanager
def _path_id(field: str) -> Iterator[None]:
    """A plain 404 from an action on the path id becomes a 404 naming the path parameter."""
    try:
        yield
    except Http404 as exc:
        if getattr(exc, "field", None):
            raise
        raise NotFoundField(field) from None


ERRORS: dict[int, Any] = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class StatusIn(In):
    reason: str = Field("", max_length=500)


# --- institutions ---------------------------------------------------------------------------------


class PermittedGradeOut(Schema):
    grade: int | None
    pack: str = ""
    version: int | None = None
    rule_id: str = ""
    source: str = ""
    message: str = ""


class InstitutionOut(Schema):
    id: int
    organization_id: int
    name: str
    credit_code: str
    licence_kind: str
    licence_no: str
    institution_type: str
    hospital_level: str
    has_anesthesiology: bool
    subjects: list[str]
    licence_valid_from: dt.date
    licence_valid_until: dt.date
    verification_cycle_years: int
    last_verified_on: dt.date | None
    next_verification_due: dt.date | None
    province: str
    city: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime


class InstitutionDetailOut(InstitutionOut):
    permitted_grade: PermittedGradeOut

    @staticmethod
    def resolve_permitted_grade(obj: Institution) -> dict[str, Any]:
        g = queries.permitted_grade(obj)
        return {
            "grade": g.grade,
            "pack": g.pack,
            "version": g.version,
            "rule_id": g.rule_id,
            "source": g.ref.source_text if g.ref else g.source,
            "citations": [c.as_dict() for c in g.ref.citations] if g.ref else [],
            "message": str(g.message),
        }


class InstitutionIn(In):
    organization_id: int | None = None
    name: str = Field(min_length=1, max_length=128)
    credit_code: str = Field(min_length=1, max_length=32)
    licence_kind: LicenceKind = LicenceKind.PRACTICE_LICENCE
    licence_no: str = Field(min_length=1, max_length=64)
    institution_type: InstitutionType
    hospital_level: HospitalLevel | None = None
    has_anesthesiology: bool = False
    subjects: list[Subject] = Field(min_length=1, max_length=4)
    licence_valid_from: dt.date
    licence_valid_until: dt.date
    verification_cycle_years: Literal[1, 3] = 1
    last_verified_on: dt.date | None = Field(
        None, description="上次校验日期;许可证生效已超过一个校验周期时必填(或直接给出 next_verification_due)"
    )
    next_verification_due: dt.date | None = Field(None, description="留空则按上次校验日期 + 校验周期计算")
    province: str = Field(min_length=1, max_length=16)
    city: str = Field(min_length=1, max_length=32)


class InstitutionPatch(In):
    name: str | None = Field(None, min_length=1, max_length=128)
    credit_code: str | None = Field(None, min_length=1, max_length=32)
    licence_kind: LicenceKind | None = None
    licence_no: str | None = Field(None, min_length=1, max_length=64)
    institution_type: InstitutionType | None = None
    hospital_level: HospitalLevel | None = None
    has_anesthesiology: bool | None = None
    subjects: list[Subject] | None = Field(None, min_length=1, max_length=4)
    licence_valid_from: dt.date | None = None
    licence_valid_until: dt.date | None = None
    verification_cycle_years: Literal[1, 3] | None = None
    last_verified_on: dt.date | None = None
    next_verification_due: dt.date | None = None
    province: str | None = Field(None, min_length=1, max_length=16)
    city: str | None = Field(None, min_length=1, max_length=32)


class InstitutionFilters(FilterIn):
    institution_type: InstitutionType | None = None
    province: str | None = None
    status: InstitutionStatus | None = None
    subject: Subject | None = None
    q: str | None = Field(None, max_length=64)


class InstitutionStatusIn(StatusIn):
    status: InstitutionStatus


@router.get("/institutions", response=list[InstitutionOut], summary="机构列表")
@paginate(Pagination)
def list_institutions(request: HttpRequest, filters: Query[InstitutionFilters]) -> Any:
    return queries.institutions(_actor(request), **_values(filters))


@router.get(
    "/institutions/{institution_id}", response={200: InstitutionDetailOut, **ERRORS}, summary="机构详情"
)
def get_institution(request: HttpRequest, institution_id: int) -> Any:
    return queries.visible(Institution, _actor(request), institution_id, field="institution_id")


@router.post("/institutions", response={201: InstitutionDetailOut, **ERRORS}, summary="登记机构")
def create_institution(request: HttpRequest, payload: InstitutionIn) -> Any:
    return 201, actions.create_institution(_actor(request), **_values(payload))


@router.patch(
    "/institutions/{institution_id}", response={200: InstitutionDetailOut, **ERRORS}, summary="修改机构"
)
def update_institution(request: HttpRequest, institution_id: int, payload: InstitutionPatch) -> Any:
    with _path_id("institution_id"):
        return actions.update_institution(
            _actor(request), institution_id, **_values(payload, exclude_unset=True)
        )


@router.post(
    "/institutions/{institution_id}/status",
    response={200: InstitutionDetailOut, **ERRORS},
    summary="机构状态变更",
)
def change_institution_status(request: HttpRequest, institution_id: int, payload: InstitutionStatusIn) -> Any:
    with _path_id("institution_id"):
        return actions.change_institution_status(_actor(request), institution_id, **_values(payload))


# --- practitioners --------------------------------------------------------------------------------


class PractitionerOut(Schema):
    id: int
    name: str
    id_number_masked: str
    profession: str
    licence_no: str
    practice_category: str
    practice_scope: str
    main_institution_id: int
    main_institution_name: str
    title: str
    practising_since: dt.date | None
    years_of_practice: int | None
    user_id: int | None
    status: str
    status_reason: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_id_number_masked(obj: Practitioner) -> str:
        return obj.masked_id_number

    @staticmethod
    def resolve_main_institution_name(obj: Practitioner) -> str:
        return obj.main_institution.name

    @staticmethod
    def resolve_years_of_practice(obj: Practitioner) -> int | None:
        return obj.years_of_practice(timezone.localdate())


class PractitionerIn(In):
    main_institution_id: int
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=15, max_length=20)
    profession: Profession
    licence_no: str | None = Field(None, max_length=32)
    practice_category: PracticeCategory | None = None
    practice_scope: str | None = Field(None, max_length=32)
    title: Title = Title.NONE
    practising_since: dt.date | None = None
    user_id: int | None = None


class PractitionerPatch(In):
    name: str | None = Field(None, min_length=1, max_length=64)
    id_number: str | None = Field(None, min_length=15, max_length=20)
    profession: Profession | None = None
    licence_no: str | None = Field(None, max_length=32)
    practice_category: PracticeCategory | None = None
    practice_scope: str | None = Field(None, max_length=32)
    title: Title | None = None
    practising_since: dt.date | None = None
    user_id: int | None = None


class PractitionerFilters(FilterIn):
    institution_id: int | None = None
    profession: Profession | None = None
    status: PractitionerStatus | None = None
    q: str | None = Field(None, max_length=64)
    expiring_before: dt.date | None = None


class PractitionerStatusIn(StatusIn):
    status: PractitionerStatus


@router.get("/practitioners", response=list[PractitionerOut], summary="人员列表")
@paginate(Pagination)
def list_practitioners(request: HttpRequest, filters: Query[PractitionerFilters]) -> Any:
    return queries.practitioners(_actor(request), **_values(filters))


@router.get("/practitioners/{practitioner_id}", response={200: PractitionerOut, **ERRORS}, summary="人员详情")
def get_practitioner(request: HttpRequest, practitioner_id: int) -> Any:
    return queries.visible(Practitioner, _actor(request), practitioner_id, field="practitioner_id")


@router.post("/practitioners", response={201: PractitionerOut, **ERRORS}, summary="登记人员")
def create_practitioner(request: HttpRequest, payload: PractitionerIn) -> Any:
    return 201, actions.create_practitioner(_actor(request), **_values(payload))


@router.patch(
    "/practitioners/{practitioner_id}", response={200: PractitionerOut, **ERRORS}, summary="修改人员"
)
def update_practitioner(request: HttpRequest, practitioner_id: int, payload: PractitionerPatch) -> Any:
    with _path_id("practitioner_id"):
        return actions.update_practitioner(
            _actor(request), practitioner_id, **_values(payload, exclude_unset=True)
        )


@router.post(
    "/practitioners/{practitioner_id}/status",
    response={200: PractitionerOut, **ERRORS},
    summary="人员状态变更",
)
def change_practitioner_status(
    request: HttpRequest, practitioner_id: int, payload: PractitionerStatusIn
) -> Any:
    with _path_id("practitioner_id"):
        return actions.change_practitioner_status(_actor(request), practitioner_id, **_values(payload))


# --- multi-site registrations -----------------------------------------------------------------------


class SiteOut(Schema):
    id: int
    practitioner_id: int
    practitioner_name: str
    institution_id: int
    institution_name: str
    valid_from: dt.date
    valid_until: dt.date | None

    @staticmethod
    def resolve_practitioner_name(obj: PractitionerSite) -> str:
        return obj.practitioner.name

    @staticmethod
    def resolve_institution_name(obj: PractitionerSite) -> str:
        return obj.institution.name


class SiteIn(In):
    institution_id: int
    practitioner_id: int | None = None
    id_number: str = Field("", max_length=20)
    name: str = Field("", max_length=64)
    valid_from: dt.date
    valid_until: dt.date | None = None


class SitePatch(In):
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


class SiteFilters(FilterIn):
    practitioner_id: int | None = None
    institution_id: int | None = None


@router.get("/practitioner-sites", response=list[SiteOut], summary="多点执业列表")
@paginate(Pagination)
def list_sites(request: HttpRequest, filters: Query[SiteFilters]) -> Any:
    return queries.practitioner_sites(_actor(request), **_values(filters))


@router.get("/practitioner-sites/{site_id}", response={200: SiteOut, **ERRORS}, summary="多点执业详情")
def get_site(request: HttpRequest, site_id: int) -> Any:
    return queries.visible(PractitionerSite, _actor(request), site_id, field="site_id")


@router.post("/practitioner-sites", response={201: SiteOut, **ERRORS}, summary="登记多点执业")
def create_site(request: HttpRequest, payload: SiteIn) -> Any:
    return 201, actions.create_practitioner_site(_actor(request), **_values(payload))


@router.patch("/practitioner-sites/{site_id}", response={200: SiteOut, **ERRORS}, summary="修改多点执业")
def update_site(request: HttpRequest, site_id: int, payload: SitePatch) -> Any:
    with _path_id("site_id"):
        return actions.update_practitioner_site(
            _actor(request), site_id, **_values(payload, exclude_unset=True)
        )


# --- multi-site requests (another institution's practitioner: their confirmation first) ------------------


class SiteRequestOut(Schema):
    id: int
    institution_id: int
    institution_name: str
    name: str
    id_number_masked: str
    valid_from: dt.date
    valid_until: dt.date | None
    note: str
    status: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decision_note: str
    site_id: int | None
    # Whom the request matched: shown to the practitioner's main institution, and to the host once accepted.
    practitioner_id: int | None

    @staticmethod
    def build(actor: Actor, req: PractitionerSiteRequest) -> "SiteRequestOut":
        return SiteRequestOut(
            id=req.pk,
            institution_id=req.institution_id,
            institution_name=req.institution.name,
            name=req.name,
            id_number_masked=req.id_number_masked,
            valid_from=req.valid_from,
            valid_until=req.valid_until,
            note=req.note,
            status=req.status,
            created_at=req.created_at,
            decided_at=req.decided_at,
            decision_note=req.decision_note,
            site_id=req.site_id,
            practitioner_id=queries.site_request_practitioner_id(actor, req),
        )


class SiteRequestIn(In):
    institution_id: int = Field(..., ge=1, description="申请机构(多点执业机构)")
    id_number: str = Field(..., min_length=15, max_length=20, description="被申请人员身份证号")
    name: str = Field(..., min_length=1, max_length=64, description="被申请人员姓名")
    valid_from: dt.date
    valid_until: dt.date | None = None
    note: str = Field("", max_length=500)


class SiteRequestDecisionIn(In):
    note: str = Field("", max_length=500)


class SiteRequestFilters(FilterIn):
    direction: Literal["incoming", "outgoing"] = "incoming"
    status: SiteRequestStatus | None = None


@router.get("/practitioner-site-requests", response=list[SiteRequestOut], summary="多点执业申请列表")
@paginate(Pagination)
def list_site_requests(request: HttpRequest, filters: Query[SiteRequestFilters]) -> Any:
    """incoming: requests to register this institution's practitioners elsewhere (to accept or refuse);
    outgoing: requests this institution sent."""
    actor = _actor(request)
    status = str(filters.status.value) if filters.status else None
    if filters.direction == "incoming":
        qs = queries.incoming_site_requests(actor, status=status)
    else:
        qs = queries.outgoing_site_requests(actor, status=status)
    return [SiteRequestOut.build(actor, r) for r in qs]


@router.post(
    "/practitioner-site-requests", response={201: SiteRequestOut, **ERRORS}, summary="申请多点执业登记"
)
def create_site_request(request: HttpRequest, payload: SiteRequestIn) -> Any:
    """Ask a practitioner's main institution to confirm a multi-site registration. The answer is the same
    (a pending request) whether or not the ID number and name match anyone."""
    actor = _actor(request)
    return 201, SiteRequestOut.build(actor, actions.request_practitioner_site(actor, **payload.dict()))


def _decide(request: HttpRequest, request_id: int, payload: SiteRequestDecisionIn, accept: bool) -> Any:
    actor = _actor(request)
    with _path_id("request_id"):
        req = actions.decide_practitioner_site_request(actor, request_id, accept=accept, note=payload.note)
    return SiteRequestOut.build(actor, req)


@router.post(
    "/practitioner-site-requests/{request_id}/accept",
    response={200: SiteRequestOut, **ERRORS},
    summary="同意多点执业申请",
)
def accept_site_request(request: HttpRequest, request_id: int, payload: SiteRequestDecisionIn) -> Any:
    return _decide(request, request_id, payload, True)


@router.post(
    "/practitioner-site-requests/{request_id}/refuse",
    response={200: SiteRequestOut, **ERRORS},
    summary="拒绝多点执业申请",
)
def refuse_site_request(request: HttpRequest, request_id: int, payload: SiteRequestDecisionIn) -> Any:
    return _decide(request, request_id, payload, False)


@router.post(
    "/practitioner-site-requests/{request_id}/withdraw",
    response={200: SiteRequestOut, **ERRORS},
    summary="撤回多点执业申请",
)
def withdraw_site_request(request: HttpRequest, request_id: int) -> Any:
    actor = _actor(request)
    with _path_id("request_id"):
        return SiteRequestOut.build(actor, actions.withdraw_practitioner_site_request(actor, request_id))


# --- qualifications -------------------------------------------------------------------------------


class QualificationOut(Schema):
    id: int
    practitioner_id: int
    kind: str
    subject: str
    filing_date: dt.date | None
    qualifying_years: int | None
    issuer: str
    number: str
    product_reference: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    hours: Decimal | None
    credits: Decimal | None
    credit_class: str
    year: int | None
    duration_months: int | None
    has_evidence: bool
    verification_status: str
    verified_by_id: int | None
    verified_at: dt.datetime | None
    verification_note: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_has_evidence(obj: Qualification) -> bool:
        return bool(obj.evidence)


class QualificationIn(In):
    practitioner_id: int
    kind: QualificationKind
    subject: Subject | None = None
    filing_date: dt.date | None = None
    qualifying_years: int | None = Field(None, ge=0, le=80)
    issuer: str | None = Field(None, max_length=128)
    number: str | None = Field(None, max_length=64)
    product_reference: str | None = Field(None, max_length=128)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    hours: Decimal | None = Field(None, ge=0, max_digits=6, decimal_places=1)
    credits: Decimal | None = Field(None, ge=0, max_digits=5, decimal_places=1)
    credit_class: CreditClass | None = None
    year: int | None = Field(None, ge=1950, le=2100)
    duration_months: int | None = Field(None, ge=0, le=600)


class QualificationPatch(In):
    kind: QualificationKind | None = None
    subject: Subject | None = None
    filing_date: dt.date | None = None
    qualifying_years: int | None = Field(None, ge=0, le=80)
    issuer: str | None = Field(None, max_length=128)
    number: str | None = Field(None, max_length=64)
    product_reference: str | None = Field(None, max_length=128)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    hours: Decimal | None = Field(None, ge=0, max_digits=6, decimal_places=1)
    credits: Decimal | None = Field(None, ge=0, max_digits=5, decimal_places=1)
    credit_class: CreditClass | None = None
    year: int | None = Field(None, ge=1950, le=2100)
    duration_months: int | None = Field(None, ge=0, le=600)


class QualificationFilters(FilterIn):
    practitioner_id: int | None = None
    kind: QualificationKind | None = None
    verification_status: VerificationStatus | None = None
    valid_until_before: dt.date | None = None


class VerifyIn(In):
    status: Literal["verified", "rejected"]
    note: str = Field("", max_length=500)


@router.get("/qualifications", response=list[QualificationOut], summary="资质列表")
@paginate(Pagination)
def list_qualifications(request: HttpRequest, filters: Query[QualificationFilters]) -> Any:
    return queries.qualifications(_actor(request), **_values(filters))


@router.get(
    "/qualifications/{qualification_id}", response={200: QualificationOut, **ERRORS}, summary="资质详情"
)
def get_qualification(request: HttpRequest, qualification_id: int) -> Any:
    return queries.visible(Qualification, _actor(request), qualification_id, field="qualification_id")


@router.post("/qualifications", response={201: QualificationOut, **ERRORS}, summary="登记资质")
def create_qualification(request: HttpRequest, payload: QualificationIn) -> Any:
    return 201, actions.create_qualification(_actor(request), **_values(payload))


@router.patch(
    "/qualifications/{qualification_id}", response={200: QualificationOut, **ERRORS}, summary="修改资质"
)
def update_qualification(request: HttpRequest, qualification_id: int, payload: QualificationPatch) -> Any:
    with _path_id("qualification_id"):
        return actions.update_qualification(
            _actor(request), qualification_id, **_values(payload, exclude_unset=True)
        )


@router.post(
    "/qualifications/{qualification_id}/verify",
    response={200: QualificationOut, **ERRORS},
    summary="核验资质",
)
def verify_qualification(request: HttpRequest, qualification_id: int, payload: VerifyIn) -> Any:
    with _path_id("qualification_id"):
        return actions.verify_qualification(_actor(request), qualification_id, **_values(payload))


@router.post(
    "/qualifications/{qualification_id}/evidence",
    response={200: QualificationOut, **ERRORS},
    summary="上传资质证明文件 (multipart: file)",
)
def upload_qualification_evidence(
    request: HttpRequest, qualification_id: int, file: File[UploadedFile]
) -> Any:
    with _path_id("qualification_id"):
        return actions.update_qualification(_actor(request), qualification_id, evidence=file)


# --- suppliers, authorizations, products ------------------------------------------------------------


class SupplierOut(Schema):
    id: int
    organization_id: int
    name: str
    credit_code: str
    business_licence_no: str
    business_licence_valid_from: dt.date
    business_licence_valid_until: dt.date | None
    is_active: bool


class SupplierIn(In):
    organization_id: int | None = None
    name: str = Field(min_length=1, max_length=128)
    credit_code: str = Field(min_length=1, max_length=32)
    business_licence_no: str = Field(min_length=1, max_length=30)
    business_licence_valid_from: dt.date
    business_licence_valid_until: dt.date | None = None


class SupplierPatch(In):
    name: str | None = Field(None, min_length=1, max_length=128)
    credit_code: str | None = Field(None, min_length=1, max_length=32)
    business_licence_no: str | None = Field(None, min_length=1, max_length=30)
    business_licence_valid_from: dt.date | None = None
    business_licence_valid_until: dt.date | None = None
    is_active: bool | None = None


class SupplierFilters(FilterIn):
    q: str | None = Field(None, max_length=64)
    is_active: bool | None = None


@router.get("/suppliers", response=list[SupplierOut], summary="供应商列表")
@paginate(Pagination)
def list_suppliers(request: HttpRequest, filters: Query[SupplierFilters]) -> Any:
    return queries.suppliers(_actor(request), **_values(filters))


@router.get("/suppliers/{supplier_id}", response={200: SupplierOut, **ERRORS}, summary="供应商详情")
def get_supplier(request: HttpRequest, supplier_id: int) -> Any:
    return queries.visible(Supplier, _actor(request), supplier_id, field="supplier_id")


@router.post("/suppliers", response={201: SupplierOut, **ERRORS}, summary="登记供应商")
def create_supplier(request: HttpRequest, payload: SupplierIn) -> Any:
    return 201, actions.create_supplier(_actor(request), **_values(payload))


@router.patch("/suppliers/{supplier_id}", response={200: SupplierOut, **ERRORS}, summary="修改供应商")
def update_supplier(request: HttpRequest, supplier_id: int, payload: SupplierPatch) -> Any:
    with _path_id("supplier_id"):
        return actions.update_supplier(_actor(request), supplier_id, **_values(payload, exclude_unset=True))


class DistributionAuthorizationOut(Schema):
    id: int
    supplier_id: int
    brand: str
    registrant: str
    territory: str
    valid_from: dt.date
    valid_until: dt.date
    has_evidence: bool
    note: str

    @staticmethod
    def resolve_has_evidence(obj: DistributionAuthorization) -> bool:
        return bool(obj.evidence)


class DistributionAuthorizationIn(In):
    supplier_id: int
    brand: str = Field(min_length=1, max_length=128)
    registrant: str = Field(min_length=1, max_length=128)
    territory: str = Field("", max_length=128)
    valid_from: dt.date
    valid_until: dt.date
    note: str = Field("", max_length=2000)


class DistributionAuthorizationPatch(In):
    brand: str | None = Field(None, min_length=1, max_length=128)
    registrant: str | None = Field(None, min_length=1, max_length=128)
    territory: str | None = Field(None, max_length=128)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    note: str | None = Field(None, max_length=2000)


class DistributionAuthorizationFilters(FilterIn):
    supplier_id: int | None = None
    q: str | None = Field(None, max_length=64)
    valid_on: dt.date | None = None


@router.get(
    "/distribution-authorizations", response=list[DistributionAuthorizationOut], summary="经销授权列表"
)
@paginate(Pagination)
def list_authorizations(request: HttpRequest, filters: Query[DistributionAuthorizationFilters]) -> Any:
    return queries.distribution_authorizations(_actor(request), **_values(filters))


@router.get(
    "/distribution-authorizations/{authorization_id}",
    response={200: DistributionAuthorizationOut, **ERRORS},
    summary="经销授权详情",
)
def get_authorization(request: HttpRequest, authorization_id: int) -> Any:
    return queries.visible(
        DistributionAuthorization, _actor(request), authorization_id, field="authorization_id"
    )


@router.post(
    "/distribution-authorizations",
    response={201: DistributionAuthorizationOut, **ERRORS},
    summary="登记经销授权",
)
def create_authorization(request: HttpRequest, payload: DistributionAuthorizationIn) -> Any:
    return 201, actions.create_distribution_authorization(_actor(request), **_values(payload))


@router.patch(
    "/distribution-authorizations/{authorization_id}",
    response={200: DistributionAuthorizationOut, **ERRORS},
    summary="修改经销授权",
)
def update_authorization(
    request: HttpRequest, authorization_id: int, payload: DistributionAuthorizationPatch
) -> Any:
    with _path_id("authorization_id"):
        return actions.update_distribution_authorization(
            _actor(request), authorization_id, **_values(payload, exclude_unset=True)
        )


class ProductOut(Schema):
    id: int
    generic_name: str
    brand_name: str
    kind: str
    registration_no: str
    registrant: str
    registration_valid_until: dt.date
    risk_class: str
    high_risk: bool
    category: str
    dose_unit: str
    cold_chain: bool
    udi_di: str
    supplier_id: int


class ProductIn(In):
    supplier_id: int
    generic_name: str = Field(min_length=1, max_length=128)
    brand_name: str | None = Field(None, max_length=128)
    kind: ProductKind
    registration_no: str = Field(min_length=1, max_length=64)
    registrant: str = Field(min_length=1, max_length=128)
    registration_valid_until: dt.date
    risk_class: RiskClass | None = None
    high_risk: bool = False
    category: ProductCategory = ProductCategory.OTHER
    dose_unit: DoseUnit
    cold_chain: bool = False
    udi_di: str = Field("", max_length=14)


class ProductPatch(In):
    generic_name: str | None = Field(None, min_length=1, max_length=128)
    brand_name: str | None = Field(None, max_length=128)
    kind: ProductKind | None = None
    registration_no: str | None = Field(None, min_length=1, max_length=64)
    registrant: str | None = Field(None, min_length=1, max_length=128)
    registration_valid_until: dt.date | None = None
    risk_class: RiskClass | None = None
    high_risk: bool | None = None
    category: ProductCategory | None = None
    dose_unit: DoseUnit | None = None
    cold_chain: bool | None = None
    udi_di: str | None = Field(None, max_length=14)


class ProductFilters(FilterIn):
    kind: ProductKind | None = None
    high_risk: bool | None = None
    supplier_id: int | None = None
    category: ProductCategory | None = None
    q: str | None = Field(None, max_length=64)


@router.get("/products", response=list[ProductOut], summary="产品列表")
@paginate(Pagination)
def list_products(request: HttpRequest, filters: Query[ProductFilters]) -> Any:
    return queries.products(_actor(request), **_values(filters))


@router.get("/products/{product_id}", response={200: ProductOut, **ERRORS}, summary="产品详情")
def get_product(request: HttpRequest, product_id: int) -> Any:
    return queries.visible(Product, _actor(request), product_id, field="product_id")


@router.post("/products", response={201: ProductOut, **ERRORS}, summary="登记产品")
def create_product(request: HttpRequest, payload: ProductIn) -> Any:
    return 201, actions.create_product(_actor(request), **_values(payload))


@router.patch("/products/{product_id}", response={200: ProductOut, **ERRORS}, summary="修改产品")
def update_product(request: HttpRequest, product_id: int, payload: ProductPatch) -> Any:
    with _path_id("product_id"):
        return actions.update_product(_actor(request), product_id, **_values(payload, exclude_unset=True))


# --- lots and devices -----------------------------------------------------------------------------


class LotOut(Schema):
    id: int
    product_id: int
    institution_id: int
    lot_no: str
    production_date: dt.date | None
    expiry_date: dt.date
    is_expired: bool
    quantity: Decimal
    unit: str
    status: str
    recall_level: int | None

    @staticmethod
    def resolve_is_expired(obj: Lot) -> bool:
        return obj.is_expired(timezone.localdate())


class LotIn(In):
    institution_id: int
    product_id: int
    lot_no: str = Field(min_length=1, max_length=40)
    production_date: dt.date | None = None
    expiry_date: dt.date
    unit: DoseUnit


class LotPatch(In):
    lot_no: str | None = Field(None, min_length=1, max_length=40)
    production_date: dt.date | None = None
    expiry_date: dt.date | None = None
    unit: DoseUnit | None = None


class LotFilters(FilterIn):
    product_id: int | None = None
    institution_id: int | None = None
    status: LotStatus | None = None
    expires_before: dt.date | None = None
    q: str | None = Field(None, max_length=64)


class LotStatusIn(StatusIn):
    status: LotStatus
    recall_level: Literal[1, 2, 3] | None = None


@router.get("/lots", response=list[LotOut], summary="批次列表")
@paginate(Pagination)
def list_lots(request: HttpRequest, filters: Query[LotFilters]) -> Any:
    return queries.lots(_actor(request), **_values(filters))


@router.get("/lots/{lot_id}", response={200: LotOut, **ERRORS}, summary="批次详情")
def get_lot(request: HttpRequest, lot_id: int) -> Any:
    return queries.visible(Lot, _actor(request), lot_id, field="lot_id")


@router.post("/lots", response={201: LotOut, **ERRORS}, summary="登记批次")
def create_lot(request: HttpRequest, payload: LotIn) -> Any:
    return 201, actions.create_lot(_actor(request), **_values(payload))


@router.patch("/lots/{lot_id}", response={200: LotOut, **ERRORS}, summary="修改批次")
def update_lot(request: HttpRequest, lot_id: int, payload: LotPatch) -> Any:
    with _path_id("lot_id"):
        return actions.update_lot(_actor(request), lot_id, **_values(payload, exclude_unset=True))


@router.post("/lots/{lot_id}/status", response={200: LotOut, **ERRORS}, summary="批次状态变更(隔离/召回)")
def change_lot_status(request: HttpRequest, lot_id: int, payload: LotStatusIn) -> Any:
    with _path_id("lot_id"):
        return actions.change_lot_status(_actor(request), lot_id, **_values(payload))


class DeviceOut(Schema):
    id: int
    product_id: int
    institution_id: int
    serial_no: str
    udi: str
    udi_di: str
    status: str
    last_inspection_on: dt.date | None
    inspection_interval_days: int | None
    next_inspection_due: dt.date | None
    last_calibration_on: dt.date | None
    calibration_interval_days: int | None
    next_calibration_due: dt.date | None
    is_overdue: bool

    @staticmethod
    def resolve_is_overdue(obj: Device) -> bool:
        return obj.is_overdue(timezone.localdate())


class DeviceIn(In):
    institution_id: int
    product_id: int
    serial_no: str | None = Field(None, max_length=64)
    udi: str | None = Field(None, max_length=128)
    last_inspection_on: dt.date | None = None
    inspection_interval_days: int | None = Field(None, ge=1, le=3650)
    last_calibration_on: dt.date | None = None
    calibration_interval_days: int | None = Field(None, ge=1, le=3650)


class DevicePatch(In):
    serial_no: str | None = Field(None, max_length=64)
    udi: str | None = Field(None, max_length=128)
    last_inspection_on: dt.date | None = None
    inspection_interval_days: int | None = Field(None, ge=1, le=3650)
    last_calibration_on: dt.date | None = None
    calibration_interval_days: int | None = Field(None, ge=1, le=3650)


class DeviceFilters(FilterIn):
    institution_id: int | None = None
    status: DeviceStatus | None = None
    overdue: bool | None = None
    q: str | None = Field(None, max_length=64)


class DeviceStatusIn(StatusIn):
    status: DeviceStatus


@router.get("/devices", response=list[DeviceOut], summary="设备列表")
@paginate(Pagination)
def list_devices(request: HttpRequest, filters: Query[DeviceFilters]) -> Any:
    return queries.devices(_actor(request), **_values(filters))


@router.get("/devices/{device_id}", response={200: DeviceOut, **ERRORS}, summary="设备详情")
def get_device(request: HttpRequest, device_id: int) -> Any:
    return queries.visible(Device, _actor(request), device_id, field="device_id")


@router.post("/devices", response={201: DeviceOut, **ERRORS}, summary="登记设备")
def create_device(request: HttpRequest, payload: DeviceIn) -> Any:
    return 201, actions.create_device(_actor(request), **_values(payload))


@router.patch("/devices/{device_id}", response={200: DeviceOut, **ERRORS}, summary="修改设备")
def update_device(request: HttpRequest, device_id: int, payload: DevicePatch) -> Any:
    with _path_id("device_id"):
        return actions.update_device(_actor(request), device_id, **_values(payload, exclude_unset=True))


@router.post("/devices/{device_id}/status", response={200: DeviceOut, **ERRORS}, summary="设备状态变更")
def change_device_status(request: HttpRequest, device_id: int, payload: DeviceStatusIn) -> Any:
    with _path_id("device_id"):
        return actions.change_device_status(_actor(request), device_id, **_values(payload))
