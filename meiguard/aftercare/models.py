"""Aftercare: the follow-up plan of a closed case and graded adverse reactions with their clocks.

Rows are read and written through the case's institution (``visible_to`` / ``writable_by``); writes happen only
in ``actions.py``. Nothing is deleted (``PROTECT``): follow-ups and reactions are part of the medical record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet

from .choices import (
    AFTERCARE_WRITERS,
    ClockState,
    FollowUpKind,
    FollowUpStatus,
    ReactionGrade,
    ReactionSource,
    ReactionStatus,
    Recovery,
    StepKind,
)

INST_ORG = "institution__organization"


def _policy(path: str = INST_ORG) -> TenantPolicy:
    return TenantPolicy(read_paths=(path,), write_path=path, write_roles=AFTERCARE_WRITERS)


class FollowUp(models.Model):
    """One contact of a case's follow-up plan: a task with a due time and an assignee."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构")
    )
    case = models.ForeignKey(
        "clinical.Case", on_delete=models.PROTECT, related_name="follow_ups", verbose_name=_("病例")
    )
    kind = models.CharField(_("类型"), max_length=20, choices=FollowUpKind.choices)
    sequence = models.PositiveSmallIntegerField(_("序号"))
    offset = models.CharField(_("时间点"), max_length=8)  # "24h", "3d", "1m" … as in the schedule
    # The window a contact should happen in: from ``window_from`` (an evaluation's earliest day) to ``due_at``.
    window_from = models.DateTimeField(_("可开始时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("应随访时间"))
    assignee = models.ForeignKey(
        "registry.Practitioner", on_delete=models.PROTECT, related_name="+", verbose_name=_("负责人")
    )
    status = models.CharField(
        _("状态"), max_length=8, choices=FollowUpStatus.choices, default=FollowUpStatus.DUE
    )
    attempts = models.PositiveSmallIntegerField(_("未联系上次数"), default=0)
    # The schedule's rule and its readable source, copied when the plan was made.
    rule_id = models.CharField(_("依据规则"), max_length=64)
    source = models.CharField(_("依据"), max_length=255)
    recovery = models.CharField(_("恢复情况"), max_length=8, choices=Recovery.choices, blank=True)
    adverse_signs = models.BooleanField(_("有不良反应迹象"), default=False)
    satisfaction = models.PositiveSmallIntegerField(
        _("满意度(1–5)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    notes = models.TextField(_("备注"), blank=True)
    done_at = models.DateTimeField(_("随访完成时间"), null=True, blank=True)
    done_by = models.ForeignKey(
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
    tenancy = _policy()

    class Meta:
        verbose_name = _("随访")
        verbose_name_plural = _("随访")
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind", "sequence"], name="uniq_aftercare_followup"),
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="aftercare_followup_satisfaction_1_5",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="aftercare_fu_status_due"),
            models.Index(fields=["assignee", "status", "due_at"], name="aftercare_fu_assignee"),
            models.Index(fields=["institution", "status", "due_at"], name="aftercare_fu_inst"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.offset}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    @property
    def is_open(self) -> bool:
        return self.status in (FollowUpStatus.DUE, FollowUpStatus.MISSED)

    def is_overdue(self, at: dt.datetime) -> bool:
        return self.is_open and self.due_at < at


class AdverseReaction(models.Model):
    """An adverse reaction after a treatment, graded, with the clock of its grade."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构")
    )
    case = models.ForeignKey(
        "clinical.Case", on_delete=models.PROTECT, related_name="adverse_reactions", verbose_name=_("病例")
    )
    follow_up = models.ForeignKey(
        FollowUp,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reactions",
        verbose_name=_("发现于随访"),
    )
    source = models.CharField(_("来源"), max_length=12, choices=ReactionSource.choices)
    grade = models.CharField(_("分级"), max_length=8, choices=ReactionGrade.choices)
    description = models.TextField(_("表现"))
    onset_at = models.DateTimeField(_("出现时间"), null=True, blank=True)
    reported_at = models.DateTimeField(_("报告时间"))
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("报告人"),
    )
    reporter_name = models.CharField(_("报告人姓名"), max_length=64, blank=True)  # client reports
    # Who is responsible for the first response (the case's nurse for a mild one, else the 主诊).
    assignee = models.ForeignKey(
        "registry.Practitioner", on_delete=models.PROTECT, related_name="+", verbose_name=_("责任人")
    )
    lots = models.ManyToManyField("registry.Lot", blank=True, related_name="+", verbose_name=_("相关批次"))
    status = models.CharField(
        _("状态"), max_length=8, choices=ReactionStatus.choices, default=ReactionStatus.OPEN
    )
    # The clock of the grade: started at ``clock_started_at`` (the report), due at ``due_at``; stopped when
    # every step the grade requires is recorded (``handled_at``).
    clock_started_at = models.DateTimeField(_("计时开始"))
    due_at = models.DateTimeField(_("处置时限"))
    handled_at = models.DateTimeField(_("处置完成时间"), null=True, blank=True)
    warned_at = models.DateTimeField(_("临近超时提醒时间"), null=True, blank=True)
    breached_at = models.DateTimeField(_("超时升级时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("处置完毕时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("不良反应")
        verbose_name_plural = _("不良反应")
        ordering = ["-reported_at", "-pk"]
        indexes = [
            models.Index(fields=["handled_at", "due_at"], name="aftercare_rx_clock"),
            models.Index(fields=["institution", "-reported_at"], name="aftercare_rx_inst"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.grade}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    def clock_state(self, at: dt.datetime) -> str:
        if self.handled_at is not None:
            return ClockState.ON_TIME if self.handled_at <= self.due_at else ClockState.LATE
        return ClockState.OVERDUE if at >= self.due_at else ClockState.RUNNING

    def remaining(self, at: dt.datetime) -> dt.timedelta:
        return self.due_at - at


class ReactionStep(models.Model):
    """One step of a reaction's handling, by a named person, at a time."""

    reaction = models.ForeignKey(
        AdverseReaction, on_delete=models.PROTECT, related_name="steps", verbose_name=_("不良反应")
    )
    kind = models.CharField(_("步骤"), max_length=12, choices=StepKind.choices)
    at = models.DateTimeField(_("时间"))
    by = models.ForeignKey(
        "registry.Practitioner", on_delete=models.PROTECT, related_name="+", verbose_name=_("执行人")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("记录人"),
    )
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy("reaction__institution__organization")

    class Meta:
        verbose_name = _("处置步骤")
        verbose_name_plural = _("处置步骤")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["reaction", "at"], name="aftercare_step_rx")]

    def __str__(self) -> str:
        return f"{self.reaction_id} {self.kind}"

    def audit_organization_id(self) -> int | None:
        return self.reaction.institution.organization_id


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value
