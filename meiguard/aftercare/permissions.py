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

from .choices import AFTERCARE_WRITERS, INCIDENT_MANAGERS, INCIDENT_REPORTERS


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


# ---- incidents (incident_views / incident_api) -------------------------------------------------------


def incident_institutions(actor: Actor) -> list[Institution]:
    """Institutions whose incident register the actor may open: where they work (any staff role: everyone may
    report), and those an auditor oversees."""
    orgs = actor.org_ids_with_roles(INCIDENT_REPORTERS) | actor.overseen_org_ids
    qs = Institution.objects.visible_to(actor).order_by("name", "pk")
    if not actor.is_unrestricted:
        qs = qs.filter(organization_id__in=orgs)
    return list(qs)


def manages_incidents(actor: Actor | None) -> bool:
    return actor is not None and actor.is_authenticated and bool(actor.org_ids_with_roles(INCIDENT_MANAGERS))


def can_report_incident(actor: Actor, obj: Any) -> bool:
    """Report at the object's institution (an Institution, or a row with one); None: at any institution."""
    if obj is None:
        return actor.is_unrestricted or bool(actor.org_ids_with_roles(INCIDENT_REPORTERS))
    org = getattr(obj, "organization_id", None) or getattr(
        getattr(obj, "institution", None), "organization_id", None
    )
    return actor.can_write_org(org, INCIDENT_REPORTERS)


def can_manage_incident(actor: Actor, obj: Any) -> bool:
    org = getattr(getattr(obj, "institution", None), "organization_id", None)
    return actor.can_write_org(org, INCIDENT_MANAGERS)


_permission("aftercare.incidents", refusal=_("不良事件登记册仅对医务科、授权专员和机构管理员开放"))(
    lambda actor, obj: manages_incidents(actor)
)
_permission("aftercare.incident_report", refusal=_("只有本机构的工作人员可以上报不良事件和隐患"))(
    lambda actor, obj: actor is not None and can_report_incident(actor, obj)
)
_permission("aftercare.incident_manage", refusal=_("只有医务科、授权专员或机构管理员可以定级、上报和结案"))(
    lambda actor, obj: obj is not None and can_manage_incident(actor, obj)
)
