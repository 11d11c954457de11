"""Every registry state change (Zulip ``do_*`` / pretix services style).

Each action is atomic, takes the actor first, checks access through ``writable_by`` (foreign → 404)
or ``queries.parent_for_write`` (a visible parent the actor may not write under → 403), validates
fully on the server (field validators + model ``clean`` + uniqueness → ``FieldErrors``), saves and
writes one audit entry with before/after in the same transaction. Nothing changed → no write, no audit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import (
    INSTITUTION_WRITERS,
    REGISTRY_WRITERS,
    STOCK_WRITERS,
    SUPPLIER_WRITERS,
    OrganizationKind,
)
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import Membership, Organization, User
from meiguard.rules import institution as institution_policy

from . import queries
from .choices import (
    DeviceStatus,
    InstitutionStatus,
    LotStatus,
    PractitionerStatus,
    SiteRequestStatus,
    VerificationStatus,
)
from .crypto import blind_index, mask_id_number
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
    add_years,
)
from .validators import normalize_code, validate_id_number

M = TypeVar("M", bound=models.Model)

INSTITUTION_FIELDS = frozenset(
    {
        "name",
        "credit_code",
        "licence_kind",
        "licence_no",
        "institution_type",
        "hospital_level",
        "has_anesthesiology",
        "subjects",
        "licence_valid_from",
        "licence_valid_until",
        "verification_cycle_years",
        "last_verified_on",
        "next_verification_due",
        "province",
        "city",
    }
)
PRACTITIONER_FIELDS = frozenset(
    {
        "name",
        "id_number",
        "profession",
        "licence_no",
        "practice_category",
        "practice_scope",
        "title",
        "practising_since",
        "user_id",
    }
)
SITE_FIELDS = frozenset({"valid_from", "valid_until"})
QUALIFICATION_FIELDS = frozenset(
    {
        "kind",
        "subject",
        "filing_date",
        "qualifying_years",
        "issuer",
        "number",
        "product_reference",
        "valid_from",
        "valid_until",
        "hours",
        "credits",
        "credit_class",
        "year",
        "duration_months",
        "evidence",
    }
)
SUPPLIER_FIELDS = frozenset(
    {
        "name",
        "credit_code",
        "business_licence_no",
        "business_licence_valid_from",
        "business_licence_valid_until",
        "is_active",
    }
)
AUTHORIZATION_FIELDS = frozenset(
    {"brand", "registrant", "territory", "valid_from", "valid_until", "evidence", "note"}
)
PRODUCT_FIELDS = frozenset(
    {
        "udi_di",
        "generic_name",
        "brand_name",
        "kind",
        "registration_no",
        "registrant",
        "registration_valid_until",
        "risk_class",
        "high_risk",
        "category",
        "dose_unit",
        "cold_chain",
    }
)
# No quantity: a lot's stock is the sum of the inventory ledger's movements (ADR 0016).
LOT_FIELDS = frozenset({"lot_no", "production_date", "expiry_date", "unit"})
DEVICE_FIELDS = frozenset(
    {
        "serial_no",
        "udi",
        "last_inspection_on",
        "inspection_interval_days",
        "last_calibration_on",
        "calibration_interval_days",
    }
)


# --- helpers ------------------------------------------------------------------------------------


def _error_dict(exc: ValidationError) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if hasattr(exc, "error_dict"):
        for key, errors in exc.error_dict.items():
            out.setdefault(key, []).extend(str(m) for e in errors for m in e.messages)
    else:
        out["__all__"] = [str(m) for m in exc.messages]
    return out


def _validate(obj: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """Server-side validation: field validators, model ``clean`` (cross-field rules) and uniqueness."""
    normalize = getattr(obj, "normalize", None)
    if callable(normalize):
        normalize()
    try:
        obj.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        errors = _error_dict(exc)
        # The API names foreign keys as ``<name>_id``.
        fks = {f.name for f in obj._meta.concrete_fields if f.is_relation}
        raise FieldErrors({(f"{k}_id" if k in fks else k): v for k, v in errors.items()}) from None


def _check_fields(fields: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")


def _save_changes(
    actor: Actor,
    obj: M,
    fields: Mapping[str, Any],
    code: str,
    *,
    exclude: Iterable[str] = (),
    reason: str = "",
    before: dict[str, Any] | None = None,
    on_change: Any = None,
) -> M:
    """Apply ``fields``, validate, save only what changed and audit it; a no-op writes nothing."""
    if before is None:
        before = audit.snapshot(obj)
    for name, value in fields.items():
        setattr(obj, name, value)
    _validate(obj, exclude=exclude)
    after = audit.snapshot(obj)
    if after == before:
        return obj
    if on_change is not None:
        on_change(obj, before, after)
        after = audit.snapshot(obj)
    delta = audit.diff(before, after)
    changed = [f.attname for f in obj._meta.concrete_fields if f.name in delta]
    try:
        with transaction.atomic():
            obj.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as exc:
        raise ActionError("CONFLICT", _("与已有记录冲突"), status=409) from exc
    audit.record(actor, code, obj, before=before, after=after, reason=reason)
    return obj


def _create(actor: Actor, obj: M, code: str, *, exclude: Iterable[str] = ()) -> M:
    _validate(obj, exclude=exclude)
    try:
        with transaction.atomic():
            obj.save(force_insert=True)
    except IntegrityError as exc:
        raise ActionError("CONFLICT", _("与已有记录冲突"), status=409) from exc
    audit.record(actor, code, obj, before=None)
    return obj


def _require_choice(value: str, choices: Iterable[str], field: str) -> None:
    if value not in set(choices):
        raise FieldErrors({field: [str(_("取值无效"))]})


# --- institutions ---------------------------------------------------------------------------------


def _owning_organization(
    actor: Actor,
    organization_id: int | None,
    *,
    kind: str,
    model: type[models.Model],
    writers: frozenset[str],
    forbidden: Any,
    wrong_kind: Any,
    taken: Any,
    platform_only: Any,
) -> Organization | None:
    """The existing organisation a new institution or supplier is attached to (checked), or None when the
    organisation is to be created with it (platform admins only)."""
    if organization_id is None:
        if not actor.is_unrestricted:
            raise ActionError("FORBIDDEN", platform_only, field="organization_id", status=403)
        return None
    org = queries.visible(Organization, actor, organization_id, field="organization_id")
    if not actor.can_write_org(org.pk, writers):
        raise ActionError("FORBIDDEN", forbidden, field="organization_id", status=403)
    if org.kind != kind:
        raise FieldErrors({"organization_id": [str(wrong_kind)]})
    if model._default_manager.filter(organization=org).exists():
        raise FieldErrors({"organization_id": [str(taken)]})
    return org


def _new_organization(actor: Actor, *, name: str, kind: str, province: str, exists: Any) -> Organization:
    if Organization.objects.filter(name=name, kind=kind).exists():
        raise FieldErrors({"name": [str(exists)]})
    org = Organization.objects.create(name=name, kind=kind, province=province)
    audit.record(actor, "core.organization.created", org, before=None)
    return org


@transaction.atomic
def create_institution(actor: Actor, *, organization_id: int | None = None, **fields: Any) -> Institution:
    """Register an institution. With ``organization_id``, attach it to that (existing, institution-kind)
    organisation, which the actor must administer; without, create the organisation too (platform only)."""
    _check_fields(fields, INSTITUTION_FIELDS)
    institution = Institution(**fields)
    org = _owning_organization(
        actor,
        organization_id,
        kind=OrganizationKind.INSTITUTION,
        model=Institution,
        writers=INSTITUTION_WRITERS,
        forbidden=_("无权为该组织登记机构"),
        wrong_kind=_("只能为医疗机构类组织登记机构"),
        taken=_("该组织已登记机构"),
        platform_only=_("只有平台管理员可以新建机构组织"),
    )
    if institution.next_verification_due is None:
        institution.next_verification_due = institution.derived_verification_due()
    errors: dict[str, list[str]] = {}
    try:
        _validate(institution, exclude=["organization"])
    except FieldErrors as exc:
        errors = dict(exc.errors)
    if institution.next_verification_due is None and institution.licence_valid_from:
        # IN-04: a licence older than one cycle has been verified since; when, only the institution knows.
        errors.setdefault("last_verified_on", []).append(
            str(
                _("许可证生效已超过一个校验周期(%(years)s年),请填写上次校验日期(或下次校验到期日)")
                % {"years": institution.verification_cycle_years}
            )
        )
    if errors:
        raise FieldErrors(errors)
    if org is None:
        org = _new_organization(
            actor,
            name=institution.name,
            kind=OrganizationKind.INSTITUTION,
            province=institution.province,
            exists=_("同名机构组织已存在"),
        )
    institution.organization = org
    return _create(actor, institution, "registry.institution.created")


def _with_verification_due(institution: Institution, fields: Mapping[str, Any]) -> dict[str, Any]:
    """IN-04 on a change: a new last verification (or cycle) moves the due date unless a due date is given
    explicitly; a due date left blank follows the last verification. Without a known last verification the
    recorded due date stands (it is never guessed from the licence start)."""
    out = dict(fields)

    def changed(name: str) -> bool:
        return name in out and out[name] != getattr(institution, name)

    last = out.get("last_verified_on", institution.last_verified_on)
    cycle = out.get("verification_cycle_years", institution.verification_cycle_years) or 1
    due = out.get("next_verification_due", institution.next_verification_due)
    moved = changed("last_verified_on") or changed("verification_cycle_years")
    if last and (due is None or (moved and not changed("next_verification_due"))):
        out["next_verification_due"] = add_years(last, cycle)
    return out


@transaction.atomic
def update_institution(actor: Actor, pk: int, **fields: Any) -> Institution:
    _check_fields(fields, INSTITUTION_FIELDS)
    institution = queries.for_update(Institution, actor, pk)
    fields = _with_verification_due(institution, fields)
    return _save_changes(actor, institution, fields, "registry.institution.updated")


@transaction.atomic
def change_institution_status(actor: Actor, pk: int, *, status: str, reason: str = "") -> Institution:
    _require_choice(status, InstitutionStatus.values, "status")
    institution = queries.for_update(Institution, actor, pk)
    if status != InstitutionStatus.ACTIVE and not reason.strip():
        raise FieldErrors({"reason": [str(_("暂停或注销必须填写原因"))]})
    if institution.status == status:
        return institution
    return _save_changes(
        actor, institution, {"status": status}, "registry.institution.status_changed", reason=reason
    )


# --- practitioners --------------------------------------------------------------------------------


def _check_user(actor: Actor, user_id: int | None, institution: Institution) -> None:
    if user_id is None:
        return
    is_member = Membership.objects.filter(
        user_id=user_id, organization_id=institution.organization_id, is_active=True
    ).exists()
    if not is_member or not User.objects.filter(pk=user_id).exists():
        raise NotFoundField("user_id")


def _check_id_number_unique(practitioner: Practitioner, institution_id: int) -> None:
    """Unique within the institution only. Whether another institution registered the same person is never
    revealed here: the answer is the same either way (ADR 0009)."""
    if not practitioner.id_number:
        return
    index = blind_index(normalize_code(practitioner.id_number))
    clash = Practitioner.objects.filter(main_institution_id=institution_id, id_number_index=index)
    if practitioner.pk:
        clash = clash.exclude(pk=practitioner.pk)
    if clash.exists():
        raise FieldErrors({"id_number": [str(_("该身份证号已在本机构登记为执业人员"))]})


@transaction.atomic
def create_practitioner(actor: Actor, *, main_institution_id: int, **fields: Any) -> Practitioner:
    _check_fields(fields, PRACTITIONER_FIELDS)
    institution = queries.parent_for_write(
        Institution, actor, main_institution_id, field="main_institution_id", roles=REGISTRY_WRITERS
    )
    _check_user(actor, fields.get("user_id"), institution)
    practitioner = Practitioner(main_institution=institution, **fields)
    practitioner.status = PractitionerStatus.ACTIVE
    _check_id_number_unique(practitioner, institution.pk)
    return _create(actor, practitioner, "registry.practitioner.created", exclude=["id_number_index"])


@transaction.atomic
def update_practitioner(actor: Actor, pk: int, **fields: Any) -> Practitioner:
    _check_fields(fields, PRACTITIONER_FIELDS)
    practitioner = queries.for_update(Practitioner, actor, pk)
    if "user_id" in fields:
        _check_user(actor, fields["user_id"], practitioner.main_institution)
    if "id_number" in fields:
        probe = Practitioner(pk=practitioner.pk, id_number=fields["id_number"])
        _check_id_number_unique(probe, practitioner.main_institution_id)
    return _save_changes(
        actor, practitioner, fields, "registry.practitioner.updated", exclude=["id_number_index"]
    )


@transaction.atomic
def change_practitioner_status(actor: Actor, pk: int, *, status: str, reason: str = "") -> Practitioner:
    """Suspend (reason required), reinstate or mark as left; audited as its own action."""
    _require_choice(status, PractitionerStatus.values, "status")
    practitioner = queries.for_update(Practitioner, actor, pk)
    if status == PractitionerStatus.SUSPENDED and not reason.strip():
        raise FieldErrors({"reason": [str(_("暂停执业必须填写原因"))]})
    if practitioner.status == status:
        return practitioner
    return _save_changes(
        actor,
        practitioner,
        {"status": status, "status_reason": reason.strip()},
        "registry.practitioner.status_changed",
        exclude=["id_number_index"],
        reason=reason,
    )


# --- multi-site registrations -----------------------------------------------------------------------


def _request_required() -> ActionError:
    # The same answer whether the person is unknown, or registered at an institution the actor does not manage.
    return ActionError(
        "SITE_REQUEST_REQUIRED",
        _("该人员不由本机构管理:请提交多点执业申请,经其主执业机构确认后生效"),
        field="id_number",
        status=409,
    )


@transaction.atomic
def create_practitioner_site(
    actor: Actor,
    *,
    institution_id: int,
    valid_from: dt.date,
    valid_until: dt.date | None = None,
    practitioner_id: int | None = None,
    id_number: str = "",
    name: str = "",
) -> PractitionerSite:
    """Register a multi-site practice (多点执业) directly — only for a practitioner whose main institution the
    actor also manages (or the platform). Another institution's practitioner needs that institution's
    confirmation: ``request_practitioner_site``. Nothing here tells whether a foreign person exists.
    """
    institution = queries.parent_for_write(
        Institution, actor, institution_id, field="institution_id", roles=REGISTRY_WRITERS
    )
    if practitioner_id is not None:
        practitioner = queries.visible(Practitioner, actor, practitioner_id, field="practitioner_id")
    else:
        index = blind_index(normalize_code(id_number)) if id_number else ""
        own = Practitioner.objects.writable_by(actor).filter(id_number_index=index, name=name.strip())
        found = own.order_by("pk").first() if index else None
        if found is None:
            raise _request_required()
        practitioner = found
    if not actor.can_write_org(practitioner.main_institution.organization_id, REGISTRY_WRITERS):
        raise _request_required()
    site = PractitionerSite(
        practitioner=practitioner, institution=institution, valid_from=valid_from, valid_until=valid_until
    )
    return _create(actor, site, "registry.practitionersite.created")


def _home_deciders(practitioner: Practitioner) -> list[int]:
    from meiguard.notify.services import users_with_roles

    return users_with_roles(practitioner.main_institution.organization_id, INSTITUTION_WRITERS)


def _notify_site_request(req: PractitionerSiteRequest, *, to_home: bool) -> None:
    from meiguard.notify.messages import label
    from meiguard.notify.models import NotificationKind
    from meiguard.notify.services import send, users_with_roles

    if to_home:
        assert req.practitioner is not None
        send(
            _home_deciders(req.practitioner),
            kind=NotificationKind.REGISTRATION,
            message="registry.site_request_received",
            params={"host": req.institution.name, "name": req.practitioner.name},
            url="/registry/site-requests/",
            dedupe_key=f"registry:siterequest:{req.pk}:received",
        )
        return
    recipients: list[int | None] = [
        req.requested_by_id,
        *users_with_roles(req.institution.organization_id, REGISTRY_WRITERS),
    ]
    send(
        recipients,
        kind=NotificationKind.REGISTRATION,
        message="registry.site_request_decided",
        params={
            "status": label(SiteRequestStatus(req.status).label),
            "name": req.name,
            "lines": [req.decision_note] if req.decision_note else [],
        },
        url="/registry/site-requests/",
        dedupe_key=f"registry:siterequest:{req.pk}:{req.status}",
    )


def _match(index: str, name: str, institution: Institution) -> Practitioner | None:
    """The practitioner a request names: same ID number and name, registered at another institution. If several
    institutions registered the same person, the earliest active record (the original registration) wins."""
    return (
        Practitioner.objects.filter(id_number_index=index, name=name)
        .exclude(main_institution=institution)
        .exclude(status=PractitionerStatus.LEFT)
        .select_related("main_institution")
        .order_by("created_at", "pk")
        .first()
    )


@transaction.atomic
def request_practitioner_site(
    actor: Actor,
    *,
    institution_id: int,
    id_number: str,
    name: str,
    valid_from: dt.date,
    valid_until: dt.date | None = None,
    note: str = "",
) -> PractitionerSiteRequest:
    """The host asks the practitioner's main institution to confirm a multi-site registration.

    Always the same answer — a pending request — whether or not the ID number and name match anyone; only the
    matched practitioner's main institution sees it (and is notified). Audited in the host's chain without the
    match.
    """
    institution = queries.parent_for_write(
        Institution, actor, institution_id, field="institution_id", roles=REGISTRY_WRITERS
    )
    number = normalize_code(id_number or "")
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    try:
        validate_id_number(number)
    except ValidationError as exc:
        errors["id_number"] = [str(m) for m in exc.messages]
    if not name:
        errors["name"] = [str(_("此字段为必填项"))]
    if valid_until is not None and valid_until < valid_from:
        errors["valid_until"] = [str(_("结束日期不能早于开始日期"))]
    if errors:
        raise FieldErrors(errors)
    index = blind_index(number)
    if Practitioner.objects.filter(main_institution=institution, id_number_index=index).exists():
        raise FieldErrors({"id_number": [str(_("多点执业机构不能是主执业机构"))]})
    if PractitionerSiteRequest.objects.filter(
        institution=institution, id_number_index=index, status=SiteRequestStatus.PENDING
    ).exists():
        raise FieldErrors({"id_number": [str(_("本机构已有该人员待确认的多点执业申请"))]})
    req = PractitionerSiteRequest(
        institution=institution,
        practitioner=_match(index, name, institution),
        name=name,
        id_number_index=index,
        id_number_masked=mask_id_number(number),
        valid_from=valid_from,
        valid_until=valid_until,
        note=note.strip(),
        requested_by_id=actor.user_id,
    )
    try:
        with transaction.atomic():
            req.save(force_insert=True)
    except IntegrityError as exc:  # a concurrent identical request
        raise FieldErrors({"id_number": [str(_("本机构已有该人员待确认的多点执业申请"))]}) from exc
    after = {k: v for k, v in audit.snapshot(req).items() if k not in ("practitioner", "id_number_index")}
    audit.record(actor, "registry.practitionersiterequest.created", req, after=after)
    if req.practitioner is not None:
        _notify_site_request(req, to_home=True)
    return req


@transaction.atomic
def decide_practitioner_site_request(
    actor: Actor, pk: int, *, accept: bool, note: str = ""
) -> PractitionerSiteRequest:
    """The practitioner's main institution (admin or compliance officer) accepts — the site is created and the
    host may see the practitioner — or refuses; either way audited in its chain and the host is notified."""
    req = queries.for_update(PractitionerSiteRequest, actor, pk)
    if req.status != SiteRequestStatus.PENDING:
        raise ActionError("ALREADY_DECIDED", _("该申请已处理"), status=409)
    assert req.practitioner is not None  # writable_by reaches only matched requests
    before = audit.snapshot(req)
    req.status = SiteRequestStatus.ACCEPTED if accept else SiteRequestStatus.REFUSED
    req.decided_by_id = actor.user_id
    req.decided_at = timezone.now()
    req.decision_note = note.strip()
    if accept:
        site = PractitionerSite(
            practitioner=req.practitioner,
            institution=req.institution,
            valid_from=req.valid_from,
            valid_until=req.valid_until,
        )
        _validate(site)
        try:
            with transaction.atomic():
                site.save(force_insert=True)
        except IntegrityError as exc:
            raise ActionError("CONFLICT", _("与已有记录冲突"), status=409) from exc
        audit.record(actor, "registry.practitionersite.created", site, before=None, reason=req.decision_note)
        req.site = site
    req.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "site", "updated_at"])
    code = (
        "registry.practitionersiterequest.accepted" if accept else "registry.practitionersiterequest.refused"
    )
    audit.record(
        actor,
        code,
        req,
        before=before,
        organization_id=req.practitioner.main_institution.organization_id,
        reason=req.decision_note,
    )
    _notify_site_request(req, to_home=False)
    return req


@transaction.atomic
def withdraw_practitioner_site_request(actor: Actor, pk: int) -> PractitionerSiteRequest:
    """The host withdraws its own pending request."""
    req = (
        PractitionerSiteRequest.objects.filter(
            institution__organization_id__in=actor.org_ids_with_roles(REGISTRY_WRITERS)
        )
        .select_for_update(of=("self",))
        .filter(pk=pk)
        .first()
    )
    if req is None:
        raise NotFoundField("request_id")
    if req.status != SiteRequestStatus.PENDING:
        raise ActionError("ALREADY_DECIDED", _("该申请已处理"), status=409)
    before = {"status": req.status}
    req.status = SiteRequestStatus.WITHDRAWN
    req.decided_by_id = actor.user_id
    req.decided_at = timezone.now()
    req.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit.record(
        actor, "registry.practitionersiterequest.withdrawn", req, before=before, after={"status": req.status}
    )
    return req


@transaction.atomic
def update_practitioner_site(actor: Actor, pk: int, **fields: Any) -> PractitionerSite:
    _check_fields(fields, SITE_FIELDS)
    site = queries.for_update(PractitionerSite, actor, pk)
    return _save_changes(actor, site, fields, "registry.practitionersite.updated")


# --- qualifications -------------------------------------------------------------------------------


@transaction.atomic
def create_qualification(actor: Actor, *, practitioner_id: int, **fields: Any) -> Qualification:
    _check_fields(fields, QUALIFICATION_FIELDS)
    practitioner = queries.parent_for_write(
        Practitioner, actor, practitioner_id, field="practitioner_id", roles=REGISTRY_WRITERS
    )
    qualification = Qualification(practitioner=practitioner, **fields)
    return _create(actor, qualification, "registry.qualification.created")


def _reset_verification(obj: Qualification, before: dict[str, Any], after: dict[str, Any]) -> None:
    if obj.verification_status != VerificationStatus.UNVERIFIED:
        obj.verification_status = VerificationStatus.UNVERIFIED
        obj.verified_by = None
        obj.verified_at = None


@transaction.atomic
def update_qualification(actor: Actor, pk: int, **fields: Any) -> Qualification:
    """Changing a credential's content sends it back to 未核验."""
    _check_fields(fields, QUALIFICATION_FIELDS)
    qualification = queries.for_update(Qualification, actor, pk)
    return _save_changes(
        actor, qualification, fields, "registry.qualification.updated", on_change=_reset_verification
    )


@transaction.atomic
def verify_qualification(actor: Actor, pk: int, *, status: str, note: str = "") -> Qualification:
    """Mark a credential verified or rejected (rejection needs a note); nobody verifies their own."""
    if status not in (VerificationStatus.VERIFIED, VerificationStatus.REJECTED):
        raise FieldErrors({"status": [str(_("核验结果只能是已核验或核验不通过"))]})
    qualification = queries.for_update(Qualification, actor, pk)
    if status == VerificationStatus.REJECTED and not note.strip():
        raise FieldErrors({"note": [str(_("核验不通过必须填写说明"))]})
    if actor.user_id is not None and qualification.practitioner.user_id == actor.user_id:
        raise ActionError("SELF_VERIFICATION", _("不能核验本人的资质"), status=403)
    if qualification.verification_status == status and qualification.verification_note == note.strip():
        return qualification
    return _save_changes(
        actor,
        qualification,
        {
            "verification_status": status,
            "verification_note": note.strip(),
            "verified_by_id": actor.user_id,
            "verified_at": timezone.now(),
        },
        "registry.qualification.verified",
        reason=note.strip(),
    )


# --- suppliers and reference data -----------------------------------------------------------------


@transaction.atomic
def create_supplier(actor: Actor, *, organization_id: int | None = None, **fields: Any) -> Supplier:
    """Attach supplier details to the actor's supplier organisation, or (platform) create both."""
    _check_fields(fields, SUPPLIER_FIELDS)
    supplier = Supplier(**fields)
    org = _owning_organization(
        actor,
        organization_id,
        kind=OrganizationKind.SUPPLIER,
        model=Supplier,
        writers=SUPPLIER_WRITERS,
        forbidden=_("无权为该组织登记供应商"),
        wrong_kind=_("只能为供应商类组织登记供应商"),
        taken=_("该组织已登记供应商"),
        platform_only=_("只有平台管理员可以新建供应商组织"),
    )
    _validate(supplier, exclude=["organization"])
    if org is None:
        org = _new_organization(
            actor,
            name=supplier.name,
            kind=OrganizationKind.SUPPLIER,
            province="",
            exists=_("同名供应商组织已存在"),
        )
    supplier.organization = org
    return _create(actor, supplier, "registry.supplier.created")


@transaction.atomic
def update_supplier(actor: Actor, pk: int, **fields: Any) -> Supplier:
    _check_fields(fields, SUPPLIER_FIELDS)
    supplier = queries.for_update(Supplier, actor, pk)
    return _save_changes(actor, supplier, fields, "registry.supplier.updated")


@transaction.atomic
def create_distribution_authorization(
    actor: Actor, *, supplier_id: int, **fields: Any
) -> DistributionAuthorization:
    _check_fields(fields, AUTHORIZATION_FIELDS)
    supplier = queries.parent_for_write(
        Supplier, actor, supplier_id, field="supplier_id", roles=SUPPLIER_WRITERS
    )
    authorization = DistributionAuthorization(supplier=supplier, **fields)
    return _create(actor, authorization, "registry.distributionauthorization.created")


@transaction.atomic
def update_distribution_authorization(actor: Actor, pk: int, **fields: Any) -> DistributionAuthorization:
    _check_fields(fields, AUTHORIZATION_FIELDS)
    authorization = queries.for_update(DistributionAuthorization, actor, pk)
    return _save_changes(actor, authorization, fields, "registry.distributionauthorization.updated")


@transaction.atomic
def create_product(actor: Actor, *, supplier_id: int, **fields: Any) -> Product:
    _check_fields(fields, PRODUCT_FIELDS)
    supplier = queries.parent_for_write(
        Supplier, actor, supplier_id, field="supplier_id", roles=SUPPLIER_WRITERS
    )
    product = Product(supplier=supplier, **fields)
    return _create(actor, product, "registry.product.created")


@transaction.atomic
def update_product(actor: Actor, pk: int, **fields: Any) -> Product:
    _check_fields(fields, PRODUCT_FIELDS)
    product = queries.for_update(Product, actor, pk)
    return _save_changes(actor, product, fields, "registry.product.updated")


# --- lots and devices -----------------------------------------------------------------------------


@transaction.atomic
def create_lot(
    actor: Actor,
    *,
    institution_id: int,
    product_id: int,
    status: str = LotStatus.AVAILABLE,
    recall_level: int | None = None,
    **fields: Any,
) -> Lot:
    _check_fields(fields, LOT_FIELDS)
    institution = queries.parent_for_write(
        Institution, actor, institution_id, field="institution_id", roles=STOCK_WRITERS
    )
    product = queries.visible(Product, actor, product_id, field="product_id")
    lot = Lot(institution=institution, product=product, status=status, recall_level=recall_level, **fields)
    return _create(actor, lot, "registry.lot.created")


@transaction.atomic
def update_lot(actor: Actor, pk: int, **fields: Any) -> Lot:
    _check_fields(fields, LOT_FIELDS)
    lot = queries.for_update(Lot, actor, pk)
    return _save_changes(actor, lot, fields, "registry.lot.updated")


@transaction.atomic
def change_lot_status(
    actor: Actor, pk: int, *, status: str, recall_level: int | None = None, reason: str = ""
) -> Lot:
    """Quarantine, recall (level 1–3, DD-09), release or mark used up."""
    _require_choice(status, LotStatus.values, "status")
    lot = queries.for_update(Lot, actor, pk)
    if status in (LotStatus.RECALLED, LotStatus.QUARANTINED) and not reason.strip():
        raise FieldErrors({"reason": [str(_("隔离或召回必须填写原因"))]})
    level = recall_level if status == LotStatus.RECALLED else None
    if lot.status == status and lot.recall_level == level:
        return lot
    return _save_changes(
        actor, lot, {"status": status, "recall_level": level}, "registry.lot.status_changed", reason=reason
    )


@transaction.atomic
def create_device(
    actor: Actor, *, institution_id: int, product_id: int, status: str = DeviceStatus.ACTIVE, **fields: Any
) -> Device:
    _check_fields(fields, DEVICE_FIELDS)
    institution = queries.parent_for_write(
        Institution, actor, institution_id, field="institution_id", roles=STOCK_WRITERS
    )
    product = queries.visible(Product, actor, product_id, field="product_id")
    device = Device(institution=institution, product=product, status=status, **fields)
    apply_policy_intervals(device)
    return _create(actor, device, "registry.device.created")


def apply_policy_intervals(device: Device, on: dt.date | None = None) -> Device:
    """Give ``device`` its institution policy's inspection/calibration intervals (本机构规范, else the
    template), which a blank interval of its own falls back to when the next due dates are derived."""
    inspection, calibration = institution_policy.device_intervals_for(
        device.institution.province, device.institution_id, on or timezone.localdate()
    )
    device.policy_inspection_days = inspection.days
    device.policy_calibration_days = calibration.days
    return device


@transaction.atomic
def update_device(actor: Actor, pk: int, **fields: Any) -> Device:
    _check_fields(fields, DEVICE_FIELDS)
    device = apply_policy_intervals(queries.for_update(Device, actor, pk))
    return _save_changes(actor, device, fields, "registry.device.updated")


@transaction.atomic
def change_device_status(actor: Actor, pk: int, *, status: str, reason: str = "") -> Device:
    _require_choice(status, DeviceStatus.values, "status")
    device = queries.for_update(Device, actor, pk)
    if status == DeviceStatus.RETIRED and not reason.strip():
        raise FieldErrors({"reason": [str(_("报废必须填写原因"))]})
    if device.status == status:
        return device
    return _save_changes(actor, device, {"status": status}, "registry.device.status_changed", reason=reason)
