"""What the rule pages may offer (the one permission helper, ``meiguard.core.permissions``)."""

from __future__ import annotations

from typing import Any

from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.core.permissions import permission

# Rule packs are read by those who manage compliance: managers, 医务科 and auditors (not doctors, nurses,
# buyers or suppliers, who meet the rules through the check and their own capabilities).
PACK_READERS = frozenset(
    {Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER, Role.MEDICAL_DIRECTOR, Role.AUDITOR}
)
# The institution's own policy: everyone working at an institution, and auditors.
POLICY_READERS = frozenset(Role.values) - {Role.SUPPLIER_ADMIN}


@permission("rules.packs")
def packs(actor: Actor, obj: Any) -> bool:
    return actor.is_unrestricted or bool(actor.org_ids_with_roles(PACK_READERS))


@permission("rules.policy")
def policy(actor: Actor, obj: Any) -> bool:
    return actor.is_unrestricted or bool(actor.org_ids_with_roles(POLICY_READERS))
