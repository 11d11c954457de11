"""Who may see and press what on the inventory pages (one helper for the navigation, the buttons and the views).

Stock is handled by the institution's admin, 采购 and 授权专员 (``STOCK_ROLES``, the roles that write registry
lots); an auditor of an overseeing body reads. Doctors and nurses use stock through the case page (scan), not
here. The actions check the same roles before any write.
"""

from __future__ import annotations

from meiguard.core.access import Actor
from meiguard.core.permissions import permission as _permission
from meiguard.registry.models import Institution

from .choices import STOCK_ROLES


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
