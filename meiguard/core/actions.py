"""Writes of the core app: organisations, users and their roles (each audited)."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from meiguard.audit import log as audit

from .access import Actor
from .choices import OrganizationKind, Role
from .errors import ActionError, FieldErrors
from .models import Membership, Organization, User


def _require_platform(actor: Actor) -> None:
    if not actor.is_unrestricted:
        raise ActionError("FORBIDDEN", _("只有平台管理员可以执行此操作"), status=403)


@transaction.atomic
def create_organization(actor: Actor, *, name: str, kind: str, province: str = "") -> Organization:
    _require_platform(actor)
    name = name.strip()
    if not name:
        raise FieldErrors({"name": [_("此字段为必填项")]})
    if kind not in OrganizationKind.values:
        raise FieldErrors(
            {"kind": [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(OrganizationKind.values)}]}
        )
    if Organization.objects.filter(name=name, kind=kind).exists():
        raise FieldErrors({"name": [_("同名组织已存在")]})
    org = Organization.objects.create(name=name, kind=kind, province=province)
    audit.record(actor, "core.organization.created", org, before={})
    return org


@transaction.atomic
def set_oversight(actor: Actor, *, overseer: Organization, members: list[Organization]) -> None:
    _require_platform(actor)
    if overseer.kind != OrganizationKind.OVERSIGHT:
        raise FieldErrors({"overseer": [_("只有监督机构可以监督其他组织")]})
    before = audit.snapshot(overseer)
    before["oversees"] = sorted(overseer.oversees.values_list("pk", flat=True))
    overseer.oversees.add(*members)
    after = audit.snapshot(overseer)
    after["oversees"] = sorted(overseer.oversees.values_list("pk", flat=True))
    if before != after:
        audit.record(actor, "core.organization.updated", overseer, before=before, after=after)


@transaction.atomic
def create_user(
    actor: Actor,
    *,
    username: str,
    password: str,
    display_name: str,
    organization: Organization,
    role: str,
    email: str = "",
    check_password: bool = True,
) -> User:
    """A user with one role in one organisation (more roles: ``grant_role``)."""
    _require_platform(actor)
    if User.objects.filter(username=username).exists():
        raise FieldErrors({"username": [_("用户名已存在")]})
    user = User(username=username, display_name=display_name, email=email)
    if check_password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise FieldErrors({"password": list(exc.messages)}) from None
    user.set_password(password)
    user.save()
    audit.record(
        actor,
        "core.user.created",
        user,
        after={"username": username, "display_name": display_name},
        organization_id=organization.pk,
    )
    grant_role(actor, user=user, organization=organization, role=role)
    return user


@transaction.atomic
def grant_role(actor: Actor, *, user: User, organization: Organization, role: str) -> Membership:
    _require_platform(actor)
    if role not in Role.values:
        raise FieldErrors({"role": [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(Role.values)}]})
    membership, created = Membership.objects.get_or_create(user=user, organization=organization, role=role)
    if created:
        audit.record(
            actor,
            "core.membership.created",
            membership,
            after={"user": user.pk, "organization": organization.pk, "role": role},
            organization_id=organization.pk,
        )
    return membership
