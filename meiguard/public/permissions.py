"""Who may see and press what on the staff side of the public app (one helper for the nav, buttons and views).

The public pages need no login. The staff pages are two: the published price list, kept by the institution's
clinical administrators (admin, 医务科, 授权专员 — ``CLINICAL_ADMINS``, the roles ``clinical.set_price``
accepts), and the case QR code, shown by any clinical writer of the case's institution.
"""

from __future__ import annotations

from meiguard.clinical.choices import CLINICAL_ADMINS, CLINICAL_WRITERS
from meiguard.core.access import Actor
from meiguard.core.permissions import permission as _permission
from meiguard.registry.models import Institution


def price_org_ids(actor: Actor) -> frozenset[int]:
    return actor.org_ids_with_roles(CLINICAL_ADMINS)


def keeps_prices(actor: Actor | None) -> bool:
    """The 公示价格 navigation entry: an institution's clinical administrators."""
    return actor is not None and actor.is_authenticated and bool(price_org_ids(actor))


def price_institutions(actor: Actor) -> list[Institution]:
    orgs = price_org_ids(actor) | actor.overseen_org_ids
    qs = Institution.objects.visible_to(actor).order_by("name", "pk")
    if not actor.is_unrestricted:
        qs = qs.filter(organization_id__in=orgs)
    return list(qs)


def can_set_price(actor: Actor, organization_id: int | None) -> bool:
    return actor.can_write_org(organization_id, CLINICAL_ADMINS)


def can_show_qr(actor: Actor, organization_id: int | None) -> bool:
    return actor.can_write_org(organization_id, CLINICAL_WRITERS)


_permission("public.prices")(lambda actor, obj: keeps_prices(actor))
_permission("public.case_qr")(
    lambda actor, case: case is not None and can_show_qr(actor, case.institution.organization_id)
)
