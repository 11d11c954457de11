"""Review campaigns (定期审查): a quarterly campaign per institution, its data-built checklist, and findings.

Every row belongs to the campaign's institution: members and overseeing auditors read it (``visible_to``).
Who may *write* depends on the campaign's kind as well as the organisation, which a ``TenantPolicy`` cannot
say on its own; ``queries.can_write`` is the one check the actions use (see docs/reviews.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.core.choices import INSTITUTION_WRITERS

from .choices import (
    CampaignKind,
    CampaignStatus,
    FindingAction,
    FindingStatus,
    ItemCategory,
    ItemStatus,
    Severity,
)


class Campaign(models.Model):
    """One review of one institution for one quarter, either by the overseeing association or internal."""

    institution = models.ForeignKey(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="review_campaigns",
        verbose_name=_("机构"),
    )
    kind = models.CharField(_("审查类型"), max_length=16, choices=CampaignKind.choices)
    period = models.CharField(_("审查期间"), max_length=7, help_text=_("季度,例如 2026-Q4"))
    starts_on = models.DateField(_("期间开始"))
    ends_on = models.DateField(_("期间结束"))
    status = models.CharField(
        _("状态"), max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.OPEN, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("发起人"),
    )
    built_at = models.DateTimeField(_("清单生成时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("结束人"),
    )
    summary = models.TextField(_("审查结论"), blank=True)
    close_note = models.TextField(_("结束说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institution__organization",),
        write_path="institution__organization",
        write_roles=INSTITUTION_WRITERS,
    )

    class Meta:
        verbose_name = _("审查")
        verbose_name_plural = _("定期审查")
        ordering = ["-starts_on", "institution__name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "period", "kind"], name="reviews_one_campaign_per_quarter"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="reviews_period_range"
            ),
        ]
        indexes = [models.Index(fields=["status", "ends_on"], name="reviews_campaign_status_end")]

    def __str__(self) -> str:
        return f"{self.institution} {self.period} {self.get_kind_display()}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    @property
    def is_open(self) -> bool:
        return self.status == CampaignStatus.OPEN

    @property
    def status_badge(self) -> tuple[str, str]:
        """(css, symbol): colour is never the only signal."""
        return ("warn", "○") if self.is_open else ("ok", "✓")


class ChecklistItem(models.Model):
    """One thing to look at. Data-derived items are keyed so a rebuild refreshes them instead of duplicating."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="items", verbose_name=_("审查")
    )
    key = models.CharField(_("清单键"), max_length=120)
    category = models.CharField(_("类别"), max_length=24, choices=ItemCategory.choices)
    month = models.PositiveSmallIntegerField(_("月份"), null=True, blank=True)
    check_code = models.CharField(_("检查项"), max_length=32, blank=True)
    practitioner = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("执业人员"),
    )
    authorization = models.ForeignKey(
        "authz.Authorization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("授权"),
    )
    qualification = models.ForeignKey(
        "registry.Qualification",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("资质"),
    )
    procedure_code = models.CharField(_("项目编码"), max_length=64, blank=True)
    decision_ids = models.JSONField(_("核验记录"), default=list, blank=True)
    evidence = models.JSONField(_("依据数据"), default=dict, blank=True)
    evidence_count = models.PositiveIntegerField(_("依据条数"), default=0)
    source = models.CharField(_("依据来源"), max_length=120, blank=True)
    institution_practice = models.BooleanField(_("机构内部管理实践"), default=False)
    is_current = models.BooleanField(_("数据仍命中"), default=True)
    status = models.CharField(_("状态"), max_length=8, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    note = models.TextField(_("检查说明"), blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("检查人"),
    )
    checked_at = models.DateTimeField(_("检查时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("campaign__institution__organization",),
        write_path="campaign__institution__organization",
        write_roles=INSTITUTION_WRITERS,
    )

    class Meta:
        verbose_name = _("检查项")
        verbose_name_plural = _("检查清单")
        ordering = ["campaign_id", "category", "month", "key"]
        constraints = [models.UniqueConstraint(fields=["campaign", "key"], name="reviews_item_key_once")]

    def __str__(self) -> str:
        from .describe import item_title

        return item_title(self)

    def audit_organization_id(self) -> int | None:
        return self.campaign.institution.organization_id

    @property
    def status_badge(self) -> tuple[str, str]:
        return {ItemStatus.OK: ("ok", "✓"), ItemStatus.FINDING: ("deny", "!")}.get(
            ItemStatus(self.status), ("warn", "○")
        )

    @property
    def title(self) -> str:
        from .describe import item_title

        return item_title(self)

    @property
    def detail(self) -> str:
        from .describe import item_detail

        return item_detail(self)


class Finding(models.Model):
    """A problem found in a review, the action taken (warn / retrain / suspend) and how it was closed."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="findings", verbose_name=_("审查")
    )
    item = models.ForeignKey(
        ChecklistItem,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="findings",
        verbose_name=_("检查项"),
    )
    practitioner = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("执业人员"),
    )
    authorization = models.ForeignKey(
        "authz.Authorization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("授权"),
    )
    severity = models.CharField(
        _("严重程度"), max_length=8, choices=Severity.choices, default=Severity.MEDIUM
    )
    description = models.TextField(_("问题描述"))
    action = models.CharField(_("处理措施"), max_length=8, choices=FindingAction.choices, blank=True)
    action_at = models.DateTimeField(_("措施时间"), null=True, blank=True)
    action_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("措施人"),
    )
    due_date = models.DateField(_("整改期限"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=8, choices=FindingStatus.choices, default=FindingStatus.OPEN, db_index=True
    )
    closing_note = models.TextField(_("关闭说明"), blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("关闭人"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("记录人"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("campaign__institution__organization",),
        write_path="campaign__institution__organization",
        write_roles=INSTITUTION_WRITERS,
    )

    class Meta:
        verbose_name = _("审查问题")
        verbose_name_plural = _("审查问题")
        ordering = ["campaign_id", "-created_at", "-pk"]
        indexes = [models.Index(fields=["campaign", "status"], name="reviews_finding_campaign_st")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.description[:40]}"

    def audit_organization_id(self) -> int | None:
        return self.campaign.institution.organization_id

    @property
    def is_open(self) -> bool:
        return self.status == FindingStatus.OPEN

    @property
    def status_badge(self) -> tuple[str, str]:
        return ("deny", "!") if self.is_open else ("ok", "✓")

    def allowed_actions(self) -> list[tuple[str, Any]]:
        """Actions that may still be recorded: an open finding escalates, never weakens."""
        from .choices import ACTION_RANK

        if not self.is_open:
            return []
        current = ACTION_RANK.get(self.action, 0)  # type: ignore[call-overload]
        return [
            (value, label)
            for value, label in FindingAction.choices
            if ACTION_RANK[FindingAction(value)] > current
            and (value != FindingAction.SUSPEND or self.authorization_id is not None)
        ]
