"""Who may see and press what on the clinical pages: one helper for the navigation, the buttons and the views.

Institution staff with a clinical role (admin, 医务科, 授权专员, doctor, nurse) work on their institutions'
files and cases; an auditor of an overseeing body reads them; suppliers and everyone else see nothing. The
actions check the same roles (``writable_by``) before any write, so a button shown here is one that will not
be refused for lack of a role.
"""

from __future__ import annotations

from meiguard.core.access import Actor
from meiguard.core.permissions import permission as _permission
from meiguard.registry.models import Institution

from .choices import CLINICAL_WRITERS


def writer_org_ids(actor: Actor) -> frozenset[int]:
    return actor.org_ids_with_roles(CLINICAL_WRITERS)


def uses_clinical(actor: Actor | None) -> bool:
    """The 临床 navigation entry: institution staff with a clinical role (not suppliers, not auditors)."""
    return actor is not None and actor.is_authenticated and bool(writer_org_ids(actor))


def institutions(actor: Actor) -> list[Institution]:
    """Institutions whose clinical pages the actor may open: writers' own, and those an auditor oversees."""
    orgs = writer_org_ids(actor) | actor.overseen_org_ids
    qs = Institution.objects.visible_to(actor).order_by("name", "pk")
    if not actor.is_unrestricted:
        qs = qs.filter(organization_id__in=orgs)
    return list(qs)


def can_write(actor: Actor, organization_id: int | None) -> bool:
    return actor.can_write_org(organization_id, CLINICAL_WRITERS)


# The navigation entry, declared in the one permission helper (``meiguard.core.permissions``).
_permission("clinical.view")(lambda actor, obj: uses_clinical(actor))
