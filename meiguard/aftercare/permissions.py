"""Who may see and press what on the aftercare pages (declared in the one permission helper).

Institution staff with a clinical role see their institutions' follow-ups and reactions and record them;
an auditor of an overseeing body reads them; nobody else sees the entry. The actions check the same roles
(``writable_by``) before any write.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from meiguard.clinical import permissions as clinical
from meiguard.core.access import Actor
from meiguard.core.permissions import permission as _permission
from meiguard.registry.models import Institution

from .choices import AFTERCARE_WRITERS


def uses_aftercare(actor: Actor | None) -> bool:
    return actor is not None and actor.is_authenticated and bool(actor.org_ids_with_roles(AFTERCARE_WRITERS))


def institutions(actor: Actor) -> list[Institution]:
    return clinical.institutions(actor)


def can_record(actor: Actor, obj: Any) -> bool:
    """Record a follow-up, report a reaction or a step at the object's institution."""
    org = getattr(getattr(obj, "institution", None), "organization_id", None)
    return actor.can_write_org(org, AFTERCARE_WRITERS)


_permission("aftercare.view", refusal=_("随访与不良反应仅对医疗机构的医护和管理人员开放"))(
    lambda actor, obj: uses_aftercare(actor)
)
_permission("aftercare.record", refusal=_("只有本机构的医护和管理人员可以记录随访与不良反应"))(
    lambda actor, obj: obj is not None and can_record(actor, obj)
)
