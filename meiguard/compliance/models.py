"""Stored monthly compliance reports and their rectification items.

A report is kept: regenerating a month adds a new version beside the old ones (``version`` 1, 2, …). A figure off
target raises one rectification item per institution, month and figure (a new version of the same month finds
the open item rather than adding another); the institution closes it with a note.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet

from .choices import REPORT_WRITERS, RectificationStatus, Trigger

INST_ORG = "institution__organization"


def _policy() -> TenantPolicy:
    return TenantPolicy(read_paths=(INST_ORG,), write_path=INST_ORG, write_roles=REPORT_WRITERS)


class MonthlyReport(models.Model):
    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构")
    )
    month = models.DateField(_("报告月份"))  # the first day of the month
    version = models.PositiveIntegerField(_("版本"), default=1)
    trigger = models.CharField(_("生成方式"), max_length=12, choices=Trigger.choices)
    generated_at = models.DateTimeField(_("生成时间"))
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("生成人"),
    )
    # [{code, label, unit, numerator, denominator, count, value, target{value, comparison, source, source_en,
    #   policy}, status, owner_role, details[[key, n]], explain}] — what the page, PDF and Excel show.
    figures = models.JSONField(_("指标"), default=list)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("月度合规报告")
        verbose_name_plural = _("月度合规报告")
        ordering = ["-month", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "month", "version"], name="uniq_compliance_report"
            ),
        ]
        indexes = [models.Index(fields=["institution", "-month", "-version"], name="compliance_report_inst")]

    def __str__(self) -> str:
        return f"{self.institution_id} {self.month:%Y-%m} v{self.version}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    @property
    def period(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def off_target(self) -> list[dict]:  # type: ignore[type-arg]
        return [f for f in self.figures if f.get("status") == "off_target"]


class Rectification(models.Model):
    """A deviation warning with its rectification deadline, closed by the institution with a note."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构")
    )
    report = models.ForeignKey(
        MonthlyReport, on_delete=models.PROTECT, related_name="rectifications", verbose_name=_("发现于报告")
    )
    month = models.DateField(_("报告月份"))
    figure_code = models.CharField(_("指标"), max_length=48)
    warning = models.TextField(_("偏离预警"))
    owner_role = models.CharField(_("责任部门/角色"), max_length=32)
    due_on = models.DateField(_("整改期限"))
    source = models.CharField(_("依据"), max_length=255)
    status = models.CharField(
        _("状态"), max_length=8, choices=RectificationStatus.choices, default=RectificationStatus.OPEN
    )
    closing_note = models.TextField(_("整改说明"), blank=True)
    closed_at = models.DateTimeField(_("整改完成时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("关闭人"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("整改事项")
        verbose_name_plural = _("整改事项")
        ordering = ["due_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "month", "figure_code"], name="uniq_compliance_rectification"
            ),
        ]
        indexes = [models.Index(fields=["institution", "status", "due_on"], name="compliance_rect_open")]

    def __str__(self) -> str:
        return f"{self.institution_id} {self.month:%Y-%m} {self.figure_code}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    def is_overdue(self, on: dt.date) -> bool:
        return self.status == RectificationStatus.OPEN and self.due_on < on
