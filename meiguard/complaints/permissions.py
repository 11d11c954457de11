"""Who may see and press what on the complaint pages (declared in the one permission helper).

- ``complaints.view``: institution staff who take complaints (医务科, 授权专员, admins, doctors, nurses) and the
  staff of an association (its auditors), who see the complaints escalated to it.
- ``complaints.receive``: take a complaint at an institution (its staff).
- ``complaints.<action>`` on a complaint: the same guards the action checks (who: the owner or an officer, or the
  association for a complaint escalated to it; and the state), so a button shown is a button that works.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.permissions import permission as _permission
from meiguard.registry.models import Institution

from .choices import ASSOCIATION_HANDLERS, COMPLAINT_TAKERS, Status


def takes_complaints(actor: Actor | None) -> bool:
    return actor is not None and actor.is_authenticated and bool(actor.org_ids_with_roles(COMPLAINT_TAKERS))


def uses_complaints(actor: Actor | None) -> bool:
    if actor is None or not actor.is_authenticated:
        return False
    return takes_complaints(actor) or bool(actor.org_ids_with_roles(ASSOCIATION_HANDLERS))


def institutions(actor: Actor) -> list[Institution]:
    """Institutions where the actor may take complaints."""
    qs = Institution.objects.visible_to(actor).order_by("name", "pk")
    if not actor.is_unrestricted:
        qs = qs.filter(organization_id__in=sorted(actor.org_ids_with_roles(COMPLAINT_TAKERS)))
    return list(qs)


def _receive(actor: Actor, obj: Any) -> bool:
    if obj is None:
        return takes_complaints(actor)
    return actor.can_write_org(getattr(obj, "organization_id", None), COMPLAINT_TAKERS)


INSTITUTION_SIDE = (Status.RECEIVED, Status.ACKNOWLEDGED, Status.INVESTIGATING)
# action: (states it may start from, whether the association may do it on an escalated complaint)
ACTIONS: dict[str, tuple[tuple[str, ...], bool]] = {
    "acknowledge": ((Status.RECEIVED,), False),
    "investigate": ((Status.ACKNOWLEDGED,), False),
    "note": ((*INSTITUTION_SIDE, Status.ESCALATED), True),
    "handover": ((*INSTITUTION_SIDE, Status.ESCALATED), False),
    "resolve": ((Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.ESCALATED), True),
    "close": ((Status.RESOLVED,), True),
    "escalate": (INSTITUTION_SIDE, False),
    "withdraw": (INSTITUTION_SIDE, False),
}


def allowed(actor: Actor, c: Any, action: str) -> bool:
    from . import actions

    states, association = ACTIONS[action]
    if c is None or c.status not in states:
        return False
    if actions.may_handle(actor, c):
        return True
    if not association:
        return False
    if action == "close":
        return actions._assoc_member(actor, c)
    return actions.is_association(actor, c)


_permission("complaints.view", refusal=_("投诉仅对医疗机构的医护和管理人员及行业协会开放"))(
    lambda actor, obj: uses_complaints(actor)
)
_permission("complaints.receive", refusal=_("只有本机构的医护和管理人员可以受理投诉"))(_receive)


def _declare(action: str) -> None:
    _permission(f"complaints.{action}", refusal=_("您不能对该投诉执行此操作"))(
        lambda actor, obj: allowed(actor, obj, action)
    )


for _action in ACTIONS:
    _declare(_action)
