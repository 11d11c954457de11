from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.core.choices import Role

GENESIS_HASH = "0" * 64
# Hash versions: 1 = unkeyed SHA-256 (entries written before keying, verified as legacy);
# 2 = HMAC-SHA256 under the key named by ``key_id`` (every new entry).
LEGACY_HASH = 1
KEYED_HASH = 2


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(TenantQuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit entries cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries cannot be deleted")


class ChainHead(models.Model):
    """The newest link of one hash chain (one chain per organisation, plus 'platform')."""

    chain = models.CharField(max_length=32, unique=True)
    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq}"


class AuditEntry(models.Model):
    """One append-only, hash-chained record of a change. There is no edit path."""

    chain = models.CharField(max_length=32, db_index=True)
    seq = models.PositiveBigIntegerField()
    organization = models.ForeignKey(
        "core.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(_("操作人"), max_length=150)
    action = models.CharField(_("动作"), max_length=64, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=64)
    object_id = models.CharField(_("对象编号"), max_length=64)
    object_repr = models.CharField(_("对象"), max_length=200)
    changes = models.JSONField(_("变更"), default=dict)
    reason = models.TextField(_("原因"), blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(_("时间"))
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    hash_version = models.PositiveSmallIntegerField(default=LEGACY_HASH)
    key_id = models.CharField(max_length=32, blank=True, default="")

    objects = AuditQuerySet.as_manager()
    tenancy = TenantPolicy(read_paths=("organization",), write_path="organization", write_roles=frozenset())

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["chain", "seq"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="uniq_audit_chain_seq")]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries cannot be deleted")


# Auditors and compliance officers read the trail of organisations they see.
AUDIT_READERS = frozenset({Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER, Role.AUDITOR})
