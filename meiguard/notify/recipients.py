"""Who is told when a clock runs out at an institution: its 医务科 and 授权专员, or its admins when it has neither.

Aftercare (reactions, follow-ups, incidents) and complaints escalate to the same people; one query finds them for
every organisation of a batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from meiguard.core.choices import Role
from meiguard.core.models import Membership

ESCALATION_ROLES = (Role.MEDICAL_DIRECTOR, Role.COMPLIANCE_OFFICER)

RolesByOrg = dict[int, dict[str, list[int]]]


def roles_by_org(org_ids: Iterable[int]) -> RolesByOrg:
    """Active users of the escalation roles and of the admin role, per organisation (one query)."""
    out: RolesByOrg = defaultdict(lambda: defaultdict(list))
    rows = Membership.objects.filter(
        organization_id__in=sorted(set(org_ids)),
        role__in=[*ESCALATION_ROLES, Role.INSTITUTION_ADMIN],
        is_active=True,
        user__is_active=True,
    ).values_list("organization_id", "role", "user_id")
    for org, role, user in rows:
        out[org][role].append(user)
    return out


def officers(roles: RolesByOrg, org_id: int) -> list[int]:
    """医务科 and 授权专员 of the institution (its admins when it has neither)."""
    found = roles.get(org_id, {})
    people = [u for r in ESCALATION_ROLES for u in found.get(r, [])]
    return people or list(found.get(Role.INSTITUTION_ADMIN, []))
