"""Every registry read, tenant-scoped through ``visible_to`` / ``writable_by``.

Foreign and unknown ids are the same 404 (``NotFoundField`` names the request field when given).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError

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

M = TypeVar("M", bound=models.Model)


def _not_found(field: str | None) -> Http404:
    return NotFoundField(field) if field else Http404("not found")


def visible(model: type[M], actor: Actor, pk: Any, *, field: str | None = None) -> M:
    """One row the actor may read, or a 404 (naming ``field`` when given)."""
    try:
        return model._default_manager.visible_to(actor).get(pk=int(pk))  # type: ignore[attr-defined]
    except (model.DoesNotExist, TypeError, ValueError):  # type: ignore[attr-defined]
        raise _not_found(field) from None


def for_update(model: type[M], actor: Actor, pk: Any, *, field: str | None = None) -> M:
    """One row the actor may change, locked for the transaction; read-only or foreign rows are 404."""
    qs = model._default_manager.writable_by(actor).select_for_update(of=("self",))  # type: ignore[attr-defined]
    try:
        return qs.get(pk=int(pk))
    except (model.DoesNotExist, TypeError, ValueError):  # type: ignore[attr-defined]
        raise _not_found(field) from None


def parent_for_write(model: type[M], actor: Actor, pk: Any, *, field: str, roles: frozenset[str]) -> M:
    """A parent referenced in a create (e.g. ``institution_id``).

    Not visible → 404 naming the field. Visible but the actor lacks ``roles`` in the owning
    organisation (auditors, doctors) → 403: the actor already knows the row exists.
    """
    obj = visible(model, actor, pk, field=field)
    org_id = obj.audit_organization_id()  # type: ignore[attr-defined]
    if not actor.can_write_org(org_id, roles):
        raise ActionError("FORBIDDEN", _("无权在该对象下登记"), field=field, status=403)
    return obj


def can_write(actor: Actor, obj: models.Model) -> bool:
    return type(obj)._default_manager.writable_by(actor).filter(pk=obj.pk).exists()  # type: ignore[attr-defined]


# --- lists with filters ---------------------------------------------------------------------------


def institutions(
    actor: Actor,
    *,
    institution_type: str | None = None,
    province: str | None = None,
    status: str | None = None,
    subject: str | None = None,
    q: str | None = None,
) -> QuerySet[Institution]:
    qs = Institution.objects.visible_to(actor)
    if institution_type:
        qs = qs.filter(institution_type=institution_type)
    if province:
        qs = qs.filter(province=province)
    if status:
        qs = qs.filter(status=status)
    if subject:
        # JSON list of ASCII values: the quoted value cannot match a different subject.
        qs = qs.filter(subjects__icontains=f'"{subject}"')
    if q:
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(licence_no__icontains=q)
            | Q(credit_code__icontains=q)
            | Q(city__icontains=q)
        )
    return qs.order_by("name", "pk")


def practitioners(
    actor: Actor,
    *,
    institution_id: int | None = None,
    profession: str | None = None,
    status: str | None = None,
    q: str | None = None,
    expiring_before: dt.date | None = None,
) -> QuerySet[Practitioner]:
    qs = Practitioner.objects.visible_to(actor).select_related("main_institution")
    if institution_id:
        qs = qs.filter(
            Q(main_institution_id=institution_id) | Q(sites__institution_id=institution_id)
        ).distinct()
    if profession:
        qs = qs.filter(profession=profession)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(licence_no__icontains=q))
    if expiring_before:
        # Someone with a credential that runs out before the date (renewals to chase).
        qs = qs.filter(
            pk__in=Qualification.objects.filter(valid_until__lt=expiring_before).values("practitioner_id")
        )
    return qs.order_by("name", "pk")


def qualifications(
    actor: Actor,
    *,
    practitioner_id: int | None = None,
    kind: str | None = None,
    verification_status: str | None = None,
    valid_until_before: dt.date | None = None,
) -> QuerySet[Qualification]:
    qs = Qualification.objects.visible_to(actor).select_related("practitioner")
    if practitioner_id:
        qs = qs.filter(practitioner_id=practitioner_id)
    if kind:
        qs = qs.filter(kind=kind)
    if verification_status:
        qs = qs.filter(verification_status=verification_status)
    if valid_until_before:
        qs = qs.filter(valid_until__lt=valid_until_before)
    return qs.order_by("practitioner_id", "kind", "pk")


def practitioner_sites(
    actor: Actor, *, practitioner_id: int | None = None, institution_id: int | None = None
) -> QuerySet[PractitionerSite]:
    qs = PractitionerSite.objects.visible_to(actor).select_related("practitioner", "institution")
    if practitioner_id:
        qs = qs.filter(practitioner_id=practitioner_id)
    if institution_id:
        qs = qs.filter(institution_id=institution_id)
    return qs.order_by("-valid_from", "pk")


def incoming_site_requests(actor: Actor, *, status: str | None = None) -> QuerySet[PractitionerSiteRequest]:
    """Requests by other institutions to register this actor's institutions' practitioners (to decide)."""
    qs = PractitionerSiteRequest.objects.visible_to(actor).filter(practitioner__isnull=False)
    if not actor.is_unrestricted:
        qs = qs.filter(practitioner__main_institution__organization_id__in=actor.member_org_ids)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("institution", "practitioner", "practitioner__main_institution").order_by(
        "-created_at", "-pk"
    )


def outgoing_site_requests(actor: Actor, *, status: str | None = None) -> QuerySet[PractitionerSiteRequest]:
    """Requests the actor's institutions sent (what they may know: status, never whom they matched)."""
    qs = PractitionerSiteRequest.objects.visible_to(actor)
    if not actor.is_unrestricted:
        qs = qs.filter(institution__organization_id__in=actor.member_org_ids)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("institution", "site").order_by("-created_at", "-pk")


def site_request_practitioner_id(actor: Actor, req: PractitionerSiteRequest) -> int | None:
    """Whom a request matched, shown to the practitioner's main institution, and to the host once accepted."""
    if req.practitioner is None:
        return None
    if req.site_id is not None or actor.is_unrestricted:
        return req.practitioner_id
    home_org = req.practitioner.main_institution.organization_id
    return req.practitioner_id if home_org in actor.member_org_ids else None


def suppliers(actor: Actor, *, q: str | None = None, is_active: bool | None = None) -> QuerySet[Supplier]:
    qs = Supplier.objects.visible_to(actor)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(credit_code__icontains=q))
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs.order_by("name", "pk")


def distribution_authorizations(
    actor: Actor, *, supplier_id: int | None = None, q: str | None = None, valid_on: dt.date | None = None
) -> QuerySet[DistributionAuthorization]:
    qs = DistributionAuthorization.objects.visible_to(actor).select_related("supplier")
    if supplier_id:
        qs = qs.filter(supplier_id=supplier_id)
    if q:
        qs = qs.filter(Q(brand__icontains=q) | Q(registrant__icontains=q))
    if valid_on:
        qs = qs.filter(valid_from__lte=valid_on, valid_until__gte=valid_on)
    return qs.order_by("supplier_id", "brand", "pk")


def products(
    actor: Actor,
    *,
    kind: str | None = None,
    high_risk: bool | None = None,
    supplier_id: int | None = None,
    category: str | None = None,
    q: str | None = None,
) -> QuerySet[Product]:
    qs = Product.objects.visible_to(actor).select_related("supplier")
    if kind:
        qs = qs.filter(kind=kind)
    if high_risk is not None:
        qs = qs.filter(high_risk=high_risk)
    if supplier_id:
        qs = qs.filter(supplier_id=supplier_id)
    if category:
        qs = qs.filter(category=category)
    if q:
        qs = qs.filter(
            Q(generic_name__icontains=q)
            | Q(brand_name__icontains=q)
            | Q(registration_no__icontains=q)
            | Q(registrant__icontains=q)
        )
    return qs.order_by("generic_name", "brand_name", "pk")


def lots(
    actor: Actor,
    *,
    product_id: int | None = None,
    institution_id: int | None = None,
    status: str | None = None,
    expires_before: dt.date | None = None,
    q: str | None = None,
) -> QuerySet[Lot]:
    qs = Lot.objects.visible_to(actor).select_related("product", "institution")
    if product_id:
        qs = qs.filter(product_id=product_id)
    if institution_id:
        qs = qs.filter(institution_id=institution_id)
    if status:
        qs = qs.filter(status=status)
    if expires_before:
        qs = qs.filter(expiry_date__lt=expires_before)
    if q:
        qs = qs.filter(
            Q(lot_no__icontains=q)
            | Q(product__generic_name__icontains=q)
            | Q(product__brand_name__icontains=q)
        )
    return qs.order_by("expiry_date", "pk")


def devices(
    actor: Actor,
    *,
    institution_id: int | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    on: dt.date | None = None,
    q: str | None = None,
) -> QuerySet[Device]:
    qs = Device.objects.visible_to(actor).select_related("product", "institution")
    if institution_id:
        qs = qs.filter(institution_id=institution_id)
    if status:
        qs = qs.filter(status=status)
    if overdue is not None:
        day = on or timezone.localdate()
        late = Q(next_inspection_due__lt=day) | Q(next_calibration_due__lt=day)
        qs = qs.filter(late) if overdue else qs.exclude(late)
    if q:
        qs = qs.filter(
            Q(serial_no__icontains=q)
            | Q(udi_di__icontains=q)
            | Q(product__generic_name__icontains=q)
            | Q(product__brand_name__icontains=q)
        )
    return qs.order_by("institution_id", "pk")


# --- audit history and derived facts -------------------------------------------------------------


def audit_history(actor: Actor, obj: models.Model, limit: int = 50) -> list[Any]:
    from meiguard.audit.models import AuditEntry

    return list(
        AuditEntry.objects.visible_to(actor)
        .filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
        .order_by("-created_at", "-seq")[:limit]
    )


def audit_history_of(actor: Actor, objects: dict[str, list[Any]], limit: int = 50) -> list[Any]:
    """The visible audit entries of several objects at once (one query), newest first.

    ``objects`` maps a model label (``registry.qualification``) to primary keys, e.g. a practitioner with
    their qualifications and multi-site registrations, so the detail page shows the whole record's history.
    """
    from meiguard.audit.models import AuditEntry

    q = Q()
    for label, pks in objects.items():
        if pks:
            q |= Q(object_type=label, object_id__in=[str(pk) for pk in pks])
    if not q:
        return []
    return list(AuditEntry.objects.visible_to(actor).filter(q).order_by("-created_at", "-seq")[:limit])


@dataclass(frozen=True)
class PermittedGrade:
    """The highest procedure grade the institution may perform, with the rule it comes from.

    ``grade`` is None when no rule pack is active (``message`` says so); 0 means no graded surgery.
    """

    grade: int | None
    pack: str = ""
    version: int | None = None
    rule_id: str = ""
    source: str = ""
    message: str | Promise = ""
    ref: Any = None  # the RuleRef (readable citation)


def permitted_grade(institution: Institution, on: dt.date | None = None) -> PermittedGrade:
    """Derived via the active rule packs (IN-03), never typed in."""
    try:
        from meiguard.rules.services import NoActivePack, derive_permitted_grade
    except ImportError:
        return PermittedGrade(grade=None, message=_("规则服务不可用,无法推导许可的手术分级"))
    try:
        derivation = derive_permitted_grade(
            province=institution.province,
            institution_type=institution.institution_type,
            hospital_level=institution.hospital_level or None,
            subjects=list(institution.subjects),
            has_anesthesiology=institution.has_anesthesiology,
            on=on or timezone.localdate(),
        )
    except NoActivePack:
        return PermittedGrade(grade=None, message=_("没有生效的规则包,无法推导许可的手术分级"))
    rule = derivation.rule
    message = _("不得开展分级手术") if derivation.grade == 0 else ""
    return PermittedGrade(
        grade=derivation.grade,
        pack=rule.pack,
        version=rule.version,
        rule_id=rule.rule_id,
        source=rule.source,
        message=message,
        ref=rule,
    )


def for_update_readonly(model: type[M], actor: Actor, pk: Any) -> M:
    """For edit pages: a row the actor may change (no lock; the action locks again), else 404."""
    try:
        return model._default_manager.writable_by(actor).get(pk=int(pk))  # type: ignore[attr-defined]
    except (model.DoesNotExist, TypeError, ValueError):  # type: ignore[attr-defined]
        raise Http404("not found") from None
