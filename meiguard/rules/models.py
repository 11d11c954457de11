"""Versioned rule packs: a pack (national or provincial overlay), its versions, and their rules.

A published version is immutable: ``save()``/``delete()`` of the version or of any of its rules
raise ``ImmutableVersionError``, and so do queryset ``update()``/``delete()`` that touch one.
A change is a new version with its own ``effective_from``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .choices import Jurisdiction, RuleKind, RuleLevel, RuleOp, VersionStatus


class ImmutableVersionError(Exception):
    """A published rule-pack version (or one of its rules) cannot be changed or deleted."""


class RulePack(models.Model):
    """A jurisdiction's rule set: ``cn-national`` is the base, ``cn-bj`` an overlay for 北京."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    name_en = models.CharField(_("英文名称"), max_length=64, blank=True)
    jurisdiction = models.CharField(_("层级"), max_length=16, choices=Jurisdiction.choices)
    province = models.CharField(_("省份"), max_length=16, blank=True, db_index=True)
    extends = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="overlays",
        verbose_name=_("基于"),
    )
    # The institution whose own policy (本机构规范) this pack is. A plain id, not a foreign key: the rules
    # app sits below the registry (docs/architecture.md); meiguard.rules.institution checks it.
    # (BigIntegerField, not Positive…: the resolver's compiled query binds a negative sentinel when compiling,
    # which Django would drop as out of range for a positive field — lib/fixedsql.py)
    institution_pk = models.BigIntegerField(_("所属机构"), null=True, blank=True, unique=True)
    organization_pk = models.PositiveBigIntegerField(_("所属组织"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("规则包")
        verbose_name_plural = _("规则包")
        ordering = ["jurisdiction", "code"]

    def __str__(self) -> str:
        return self.code

    @property
    def display_name(self) -> str:
        if self.name_en and (translation.get_language() or "").startswith("en"):
            return self.name_en
        return self.name

    def audit_organization_id(self) -> int | None:
        return self.organization_pk  # an institution's policy is audited on its own chain


class RulePackVersionQuerySet(models.QuerySet):
    def published(self) -> RulePackVersionQuerySet:
        return self.filter(status=VersionStatus.PUBLISHED)

    def update(self, **kwargs: Any) -> int:
        if self.filter(status=VersionStatus.PUBLISHED).exists():
            raise ImmutableVersionError("published rule-pack versions cannot be changed")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(status=VersionStatus.PUBLISHED).exists():
            raise ImmutableVersionError("published rule-pack versions cannot be deleted")
        return super().delete()


class RulePackVersion(models.Model):
    pack = models.ForeignKey(
        RulePack, on_delete=models.PROTECT, related_name="versions", verbose_name=_("规则包")
    )
    version = models.PositiveIntegerField(_("版本"))
    status = models.CharField(
        _("状态"), max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    effective_from = models.DateField(_("生效日期"), null=True, blank=True)
    source_doc = models.CharField(_("依据文件"), max_length=255, blank=True)
    effective_basis = models.CharField(_("生效日期依据"), max_length=255, blank=True)
    description = models.TextField(_("说明"), blank=True)
    checksum = models.CharField(_("内容校验和"), max_length=64)
    loaded_from = models.CharField(_("载入路径"), max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)

    objects = RulePackVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("规则包版本")
        verbose_name_plural = _("规则包版本")
        ordering = ["pack__code", "-version"]
        constraints = [models.UniqueConstraint(fields=["pack", "version"], name="uniq_rulepack_version")]

    def __str__(self) -> str:
        return f"{self.pack.code} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._stored_status() == VersionStatus.PUBLISHED:
            raise ImmutableVersionError(f"{self} is published and cannot be changed; load a new version")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self._stored_status() == VersionStatus.PUBLISHED:
            raise ImmutableVersionError(f"{self} is published and cannot be deleted")
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED

    def _stored_status(self) -> str | None:
        if self.pk is None:
            return None
        return RulePackVersion._base_manager.filter(pk=self.pk).values_list("status", flat=True).first()

    def audit_organization_id(self) -> int | None:
        return self.pack.organization_pk

    def audit_extra(self) -> dict[str, Any]:
        return {"pack": self.pack.code, "rule_count": self.rules.count()}


class RuleQuerySet(models.QuerySet):
    def _touches_published(self) -> bool:
        return self.filter(version__status=VersionStatus.PUBLISHED).exists()

    def update(self, **kwargs: Any) -> int:
        if self._touches_published():
            raise ImmutableVersionError("rules of a published version cannot be changed")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self._touches_published():
            raise ImmutableVersionError("rules of a published version cannot be deleted")
        return super().delete()


class Rule(models.Model):
    """One rule of a version. ``data`` holds the kind-specific fields (see docs/rule-packs.md)."""

    version = models.ForeignKey(RulePackVersion, on_delete=models.CASCADE, related_name="rules")
    rule_id = models.CharField(_("规则编号"), max_length=96)
    kind = models.CharField(_("类别"), max_length=32, choices=RuleKind.choices)
    op = models.CharField(_("操作"), max_length=8, choices=RuleOp.choices, default=RuleOp.ADD)
    title = models.CharField(_("标题"), max_length=200, blank=True)
    title_en = models.CharField(_("英文标题"), max_length=200, blank=True)
    source = models.CharField(_("依据"), max_length=255)
    citations = models.JSONField(_("依据文件"), default=list, blank=True)
    level = models.CharField(_("规定层级"), max_length=16, choices=RuleLevel.choices, blank=True)
    adjustable = models.BooleanField(_("机构可调整"), null=True)
    confirmed = models.BooleanField(_("已核实"), null=True)
    note = models.TextField(_("备注"), blank=True)
    data = models.JSONField(_("内容"), default=dict)
    position = models.PositiveIntegerField(_("顺序"), default=0)

    objects = RuleQuerySet.as_manager()

    class Meta:
        verbose_name = _("规则")
        verbose_name_plural = _("规则")
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "rule_id"], name="uniq_rule_per_version")]
        indexes = [models.Index(fields=["version", "kind"], name="rules_rule_kind_idx")]

    def __str__(self) -> str:
        return self.rule_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._version_published():
            raise ImmutableVersionError(f"rule {self.rule_id} belongs to a published version")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self._version_published():
            raise ImmutableVersionError(f"rule {self.rule_id} belongs to a published version")
        return super().delete(*args, **kwargs)

    def _version_published(self) -> bool:
        return RulePackVersion._base_manager.filter(
            pk=self.version_id, status=VersionStatus.PUBLISHED
        ).exists()

    def audit_organization_id(self) -> int | None:
        return None

    CONTENT: ClassVar[tuple[str, ...]] = (
        *("rule_id", "kind", "op", "title", "title_en", "source", "citations"),
        *("level", "adjustable", "confirmed", "note", "data", "position"),
    )

    @classmethod
    def like(cls, other: Any, **changes: Any) -> Rule:
        """A new (unsaved) rule with the content of ``other`` — a rule or a parsed pack-file rule — and
        ``changes`` applied; ``data`` is copied, never shared."""
        values = {name: getattr(other, name) for name in cls.CONTENT if hasattr(other, name)}
        values["data"] = dict(values.get("data") or {})
        values.update(changes)
        return cls(**values)


class RulesGeneration(models.Model):
    """One row (``id=1``) whose ``value`` grows by one in every transaction that publishes rules.

    Processes cache what they derive from rule packs under this number (``authz/snapshot.py``) and read it
    from the database, so a version published by any process is seen by every other one as soon as the
    publishing transaction commits. Written only by ``services.bump_generation()``.
    """

    value = models.BigIntegerField(_("代数"), default=0)

    class Meta:
        verbose_name = _("规则代数")
        verbose_name_plural = _("规则代数")

    def __str__(self) -> str:
        return f"rules generation {self.value}"
