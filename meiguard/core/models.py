from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .access import TenantPolicy, TenantQuerySet
from .choices import OrganizationKind, Role


class User(AbstractUser):
    """A person who signs in. Organisation and role come from memberships."""

    display_name = models.CharField(_("姓名"), max_length=64, blank=True)
    # The language the person last chose in the header: e-mailed notices are written in it (blank: the site's).
    language = models.CharField(_("界面语言"), max_length=10, blank=True, choices=settings.LANGUAGES)

    audit_masked_fields = ("password",)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username


class Organization(models.Model):
    """An institution, a supplier, an oversight body, or the platform operator."""

    name = models.CharField(_("名称"), max_length=128)
    kind = models.CharField(_("类型"), max_length=16, choices=OrganizationKind.choices)
    province = models.CharField(_("省份"), max_length=16, blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    # An oversight body (association / health supervision) oversees member organisations.
    oversees = models.ManyToManyField(
        "self", symmetrical=False, related_name="overseen_by", blank=True, verbose_name=_("监督对象")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("pk",), write_path="pk", write_roles=frozenset({Role.INSTITUTION_ADMIN})
    )

    class Meta:
        verbose_name = _("组织")
        verbose_name_plural = _("组织")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name", "kind"], name="uniq_org_name_kind")]

    def __str__(self) -> str:
        return self.name

    def audit_organization_id(self) -> int | None:
        return self.pk


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("成员角色")
        verbose_name_plural = _("成员角色")
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "role"], name="uniq_membership_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.get_role_display()})"

    def audit_organization_id(self) -> int | None:
        return self.organization_id


class TokenScope(models.TextChoices):
    READ = "read", _("读取")
    DECIDE = "decide", _("核验")
    WRITE = "write", _("写入")


class ApiToken(models.Model):
    """A bearer token for systems (HIS/EMR). Only a SHA-256 of the secret is stored.

    A token works until ``expires_at`` and only for its ``scopes`` (GET → read, POST /decisions* → decide,
    other writes → write). Rotation issues a new token and lets the old one run out at ``grace_until``.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=64)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(_("权限范围"), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("到期时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Rotation: the token that replaced this one, and until when this one still works.
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces"
    )

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, at: dt.datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= at:
            return False
        return self.expires_at is None or self.expires_at > at
