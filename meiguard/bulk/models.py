"""ImportRun: one upload checked (dry run) or written (apply), with its counts and every error."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.core.choices import REGISTRY_WRITERS

from .choices import ImportKind, RowAction, RunMode, RunStatus


class ImportRun(models.Model):
    """Who uploaded which file (name + sha256) when, as a dry run or an apply, and what came of it.

    Visible to the uploader, and (through ``institutions``, the institutions its rows write to) to the
    members and overseers of those institutions. The upload itself is kept encrypted (``content``) only
    until it is applied or the retention period ends, so that "apply" can re-read the checked file.
    """

    kind = models.CharField(_("导入内容"), max_length=16, choices=ImportKind.choices)
    mode = models.CharField(_("方式"), max_length=8, choices=RunMode.choices)
    status = models.CharField(_("结果"), max_length=8, choices=RunStatus.choices)
    file_name = models.CharField(_("文件名"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveIntegerField(_("文件大小(字节)"))
    content = models.TextField(_("加密的文件内容"), blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("上传人"),
    )
    actor_label = models.CharField(_("上传人"), max_length=150)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    counts = models.JSONField(_("统计"), default=dict, blank=True)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    changes = models.JSONField(_("变更预览"), default=list, blank=True)
    institutions = models.ManyToManyField(
        "registry.Institution", blank=True, related_name="+", verbose_name=_("涉及机构")
    )
    source = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("所依据的试运行"),
    )
    applied_at = models.DateTimeField(_("正式导入时间"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institutions__organization",),
        write_path="institutions__organization",
        write_roles=REGISTRY_WRITERS,
    )

    class Meta:
        verbose_name = _("导入记录")
        verbose_name_plural = _("导入记录")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    def audit_organization_id(self) -> int | None:
        return None

    @property
    def ok(self) -> bool:
        return self.status in (RunStatus.VALID, RunStatus.APPLIED)

    def total(self, action: str) -> int:
        return sum(int(c.get(action, 0)) for c in (self.counts or {}).values())

    def totals(self) -> dict[str, int]:
        return {a: self.total(a) for a in RowAction.values}

    def sheet_counts(self) -> list[dict[str, Any]]:
        return [{"sheet": sheet, **counts} for sheet, counts in (self.counts or {}).items()]
