"""What the authorization pages may offer (the one permission helper, ``meiguard.core.permissions``)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.core.permissions import permission

from . import queries

# Who checks a procedure: everyone working at an institution, and auditors of overseen ones (not suppliers).
CHECKERS = frozenset(Role.values) - {Role.SUPPLIER_ADMIN}


@permission("authz.check")
def check(actor: Actor, obj: Any) -> bool:
    return actor.is_unrestricted or bool(actor.overseen_org_ids) or bool(actor.org_ids_with_roles(CHECKERS))


@permission("authz.authorization.create", refusal=_("您没有可管理授权的机构"))
def create(actor: Actor, obj: Any) -> bool:
    return bool(queries.writable_institutions(actor))


@permission("authz.authorization.change", refusal=_("您没有管理该授权的权限"))
def change(actor: Actor, obj: Any) -> bool:
    return obj is not None and queries.can_write_authorization(actor, obj)
