"""Who may see and press what on the inventory pages (one helper for the navigation, the buttons and the views).

Stock is handled by the institution's admin, 采购 and 授权专员 (``STOCK_ROLES``, the roles that write registry
lots); an auditor of an overseeing body reads. Doctors and nurses use stock through the case page (scan), not
here. The actions check the same roles before any write.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.core.permissions import permission as _permission
from meiguard.registry.models import Institution

from .choices import STOCK_ROLES

# Who reads the inventory reports (usage by doctor included): the stock keepers and 医务科 of the institution,
# and the auditors of a body that oversees it.
REPORT_ROLES = STOCK_ROLES | {Role.MEDICAL_DIRECTOR}


def keeper_org_ids(actor: Actor) -> frozenset[int]:
    return actor.org_ids_with_roles(STOCK_ROLES)


def uses_inventory(actor: Actor | None) -> bool:
    """The 库存 navigation entry: the roles that handle stock (auditors open the pages from a link)."""
    return actor is not None and actor.is_authenticated and bool(keeper_org_ids(actor))


def institutions(actor: Actor) -> list[Institution]:
    orgs = keeper_org_ids(actor) | actor.overseen_org_ids
    qs = Institution.objects.visible_to(actor).order_by("name", "pk")
    if not actor.is_unrestricted:
        qs = qs.filter(organization_id__in=orgs)
    return list(qs)


def can_keep(actor: Actor, organization_id: int | None) -> bool:
    return actor.can_write_org(organization_id, STOCK_ROLES)


_permission("inventory.view")(lambda actor, obj: uses_inventory(actor))
# Recall a lot (DD-09): the roles that keep stock at the lot's institution.
_permission("inventory.recall")(
    lambda actor, lot: lot is not None and can_keep(actor, lot.institution.organization_id)
)


def report_institutions(actor: Actor) -> list[Institution]:
    """The institutions whose inventory reports the actor may read."""
    if actor is None or not actor.is_authenticated:
        return []
    orgs = actor.org_ids_with_roles(REPORT_ROLES) | actor.overseen_org_ids
    qs = Institution.objects.visible_to(actor).order_by("name", "pk")
    if not actor.is_unrestricted:
        qs = qs.filter(organization_id__in=orgs)
    return list(qs)


def reads_reports(actor: Actor, institution: Institution | None) -> bool:
    if institution is None:
        return bool(actor.is_unrestricted or actor.org_ids_with_roles(REPORT_ROLES) or actor.overseen_org_ids)
    org = institution.organization_id
    return bool(
        actor.is_unrestricted
        or org in actor.org_ids_with_roles(REPORT_ROLES)
        or org in actor.overseen_org_ids
    )


# The reports (issue 13 part 7): the stock keepers, 医务科, overseeing auditors.
_permission(
    "inventory.reports",
    refusal=gettext_lazy("只有机构管理员、采购、授权专员、医务科和监督机构审计员可以查看库存报表"),
)(lambda actor, inst: reads_reports(actor, inst))
# Stock movements by hand (count, transfer, scrap, return to supplier) and closing an alert: the keepers.
_permission("inventory.move", refusal=gettext_lazy("只有机构管理员、采购和授权专员可以登记库存变动"))(
    lambda actor, inst: inst is not None and can_keep(actor, inst.organization_id)
)
