"""The single access check (after NetBox's RestrictedQuerySet and healthchecks' _get_check_for_user).

Every tenant-owned model declares a ``TenantPolicy`` and uses ``TenantQuerySet``. Every read
path — pages, API, admin, exports — goes through ``visible_to(actor)``; every write path through
``writable_by(actor)``. A foreign object is simply not in the queryset, so callers answer 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Self

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from .models import User


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """How rows of a model belong to organisations.

    read_paths: lookups (from the model) that end at an Organization; a row is visible if any
        path reaches one of the actor's readable organisations.
    write_path: the lookup of the owning organisation; writes need one of ``write_roles`` there.
    shared_read: reference data (products, suppliers) every signed-in user may read.
    """

    read_paths: tuple[str, ...]
    write_path: str
    write_roles: frozenset[str]
    shared_read: bool = False


# The label the demo world's writes carry in audit entries and decision logs (what a reader sees as "who").
DEMO_ACTOR = "演示数据"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: built once per request (middleware) or as ``Actor.system()`` for jobs."""

    user_id: int | None
    username: str
    roles_by_org: Mapping[int, frozenset[str]] = field(default_factory=dict)
    overseen_org_ids: frozenset[int] = frozenset()
    is_platform_admin: bool = False
    is_system: bool = False

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(user_id=None, username=label, is_system=True)

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(user_id=None, username="anonymous")

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None or self.is_system

    @property
    def member_org_ids(self) -> frozenset[int]:
        return frozenset(self.roles_by_org)

    @property
    def readable_org_ids(self) -> frozenset[int]:
        return self.member_org_ids | self.overseen_org_ids

    @property
    def is_unrestricted(self) -> bool:
        return self.is_platform_admin or self.is_system

    def roles(self) -> frozenset[str]:
        out: set[str] = set()
        for roles in self.roles_by_org.values():
            out |= roles
        return frozenset(out)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles() & set(roles))

    def org_ids_with_roles(self, roles: Iterable[str]) -> frozenset[int]:
        wanted = set(roles)
        return frozenset(org for org, have in self.roles_by_org.items() if have & wanted)

    def acting_as(self, org_id: int, roles: Iterable[str]) -> Actor:
        """A copy that also holds ``roles`` at one organisation: a right delegated for a single action (the
        deciding committee vote grants on the institution's authority; an auditor's finding suspends).
        Audit entries still name this person. Called on the request's lazy proxy, ``self`` is the real Actor."""
        merged = dict(self.roles_by_org)
        merged[org_id] = merged.get(org_id, frozenset()) | frozenset(roles)
        return replace(self, roles_by_org=merged)

    def can_write_org(self, org_id: int | None, roles: Iterable[str]) -> bool:
        if self.is_unrestricted:
            return True
        return org_id is not None and org_id in self.org_ids_with_roles(roles)


def build_actor(user: User | Any) -> Actor:
    """Two queries: memberships, and organisations overseen by the user's oversight bodies."""
    from .choices import OrganizationKind, Role
    from .models import Membership, Organization

    if user is None or not getattr(user, "is_authenticated", False):
        return Actor.anonymous()
    roles: dict[int, set[str]] = {}
    oversight_orgs: list[int] = []
    rows = Membership.objects.filter(user=user, is_active=True, organization__is_active=True).values_list(
        "organization_id", "role", "organization__kind"
    )
    for org_id, role, kind in rows:
        roles.setdefault(org_id, set()).add(role)
        if kind == OrganizationKind.OVERSIGHT and role == Role.AUDITOR:
            oversight_orgs.append(org_id)
    overseen: frozenset[int] = frozenset()
    if oversight_orgs:
        overseen = frozenset(
            Organization.oversees.through.objects.filter(from_organization_id__in=oversight_orgs).values_list(
                "to_organization_id", flat=True
            )
        )
    is_admin = bool(user.is_superuser) or any(Role.PLATFORM_ADMIN in r for r in roles.values())
    return Actor(
        user_id=user.pk,
        username=user.get_username(),
        roles_by_org={org: frozenset(r) for org, r in roles.items()},
        overseen_org_ids=overseen,
        is_platform_admin=is_admin,
    )


@lru_cache(maxsize=256)
def _forward_only(model: type[models.Model], path: str) -> bool:
    """True when every hop of ``path`` is a forward foreign key or one-to-one (each row reaches one row)."""
    current: Any = model
    for part in path.split("__"):
        try:
            f = current._meta.get_field(part)
        except Exception:
            return False
        if f.auto_created or not (f.many_to_one or f.one_to_one) or f.related_model is None:
            return False
        current = f.related_model
    return True


class TenantQuerySet(models.QuerySet):
    """``visible_to`` / ``writable_by``: the only access check, used by every query path."""

    def _policy(self) -> TenantPolicy:
        policy = getattr(self.model, "tenancy", None)
        if not isinstance(policy, TenantPolicy):
            raise TypeError(f"{self.model.__name__} has no TenantPolicy")
        return policy

    def _restrict(self, paths: tuple[str, ...], org_ids: frozenset[int]) -> Self:
        if not org_ids:
            return self.none()
        model: Any = self.model
        if len(paths) == 1 and ("__" not in paths[0] or _forward_only(model, paths[0])):
            # Through foreign keys only (to-one): a plain join cannot duplicate rows, and it lets the database
            # drive the query from the caller's own indexed filter instead of a subquery over the whole table.
            return self.filter(**{f"{paths[0]}__in": org_ids})
        q = Q()
        for path in paths:
            q |= Q(**{f"{path}__in": org_ids})
        # A subquery on pk keeps joins through to-many relations from duplicating rows.
        return self.filter(pk__in=self.model._base_manager.filter(q).values("pk"))

    def visible_to(self, actor: Actor) -> Self:
        if actor.is_unrestricted:
            return self.all()
        if not actor.is_authenticated:
            return self.none()
        policy = self._policy()
        if policy.shared_read:
            return self.all()
        return self._restrict(policy.read_paths, actor.readable_org_ids)

    def writable_by(self, actor: Actor) -> Self:
        if actor.is_unrestricted:
            return self.all()
        policy = self._policy()
        return self._restrict((policy.write_path,), actor.org_ids_with_roles(policy.write_roles))
