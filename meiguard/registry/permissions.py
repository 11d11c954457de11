"""What registry pages may offer (declared in the one permission helper, ``meiguard.core.permissions``).

Each check asks what the matching action asks: ``create_institution`` needs an institution-kind organisation
the actor administers that has no institution yet (or a platform admin); ``create_practitioner`` a visible
institution where the actor holds a registry-writing role; changes need the row in ``writable_by``.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.choices import INSTITUTION_WRITERS, REGISTRY_WRITERS, OrganizationKind
from meiguard.core.models import Organization
from meiguard.core.permissions import permission

from . import queries
from .models import Institution, Supplier


@permission(
    "registry.institution.create", refusal=_("只有平台管理员或尚未登记机构的组织的管理员可以登记机构")
)
def create_institution(actor: Actor, obj: Any) -> bool:
    if actor.is_unrestricted:
        return True
    orgs = actor.org_ids_with_roles(INSTITUTION_WRITERS)
    return bool(orgs) and (
        Organization.objects.filter(
            pk__in=orgs, kind=OrganizationKind.INSTITUTION, institution__isnull=True
        ).exists()
    )


@permission("registry.practitioner.create", refusal=_("只有机构管理员、授权专员或医务科可以登记执业人员"))
def create_practitioner(actor: Actor, obj: Any) -> bool:
    if actor.is_unrestricted:
        return True
    orgs = actor.org_ids_with_roles(REGISTRY_WRITERS)
    return bool(orgs) and Institution.objects.visible_to(actor).filter(organization_id__in=orgs).exists()


@permission("registry.change", refusal=_("您没有修改该记录的权限"))
def change(actor: Actor, obj: Any) -> bool:
    return obj is not None and queries.can_write(actor, obj)


@permission("registry.product.create", refusal=_("只有供应商管理员可以登记产品"))
def create_product(actor: Actor, obj: Any) -> bool:
    return Supplier.objects.writable_by(actor).exists()


@permission("registry.distributionauthorization.create", refusal=_("只有供应商管理员可以登记经销授权"))
def create_distribution_authorization(actor: Actor, obj: Any) -> bool:
    return Supplier.objects.writable_by(actor).exists()
