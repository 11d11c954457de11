"""What the application pages may offer (the one permission helper, ``meiguard.core.permissions``)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.core.permissions import permission

from . import queries

# Roles that have applications to read: institution staff and the auditors of overseeing bodies.
READERS = frozenset(Role.values) - {Role.SUPPLIER_ADMIN}


@permission("workflow.view")
def view(actor: Actor, obj: Any) -> bool:
    return actor.is_unrestricted or bool(actor.overseen_org_ids) or bool(actor.org_ids_with_roles(READERS))


@permission("workflow.apply", refusal=_("您没有可提交授权申请的机构"))
def apply(actor: Actor, obj: Any) -> bool:
    return bool(queries.institutions_for_apply(actor))
