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
    INCIDENT_REPORTERS,
    ClockState,
    FollowUpKind,
    FollowUpStatus,
    IncidentGrade,
    IncidentKind,
    IncidentStatus,
    ReactionGrade,
    ReactionSource,
    ReactionStatus,
    Recovery,
    ReportChannel,
    ReportState,
    Severity,
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


class Incident(models.Model):
    """An adverse event, a medical error or a hazard (不良事件/医疗差错/隐患) with its internal grade and, when the
    law asks for one, the regulatory report and its deadline clock (computed from discovery)."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构")
    )
    kind = models.CharField(_("类别"), max_length=16, choices=IncidentKind.choices)
    grade = models.CharField(_("内部分级"), max_length=4, choices=IncidentGrade.choices)
    severity = models.CharField(_("严重程度"), max_length=12, choices=Severity.choices)
    title = models.CharField(_("事件名称"), max_length=200)
    description = models.TextField(_("经过"))
    discovered_at = models.DateTimeField(_("发现时间"))
    case = models.ForeignKey(
        "clinical.Case",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("病例"),
    )
    product = models.ForeignKey(
        "registry.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("产品"),
    )
    lot = models.ForeignKey(
        "registry.Lot",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("批次"),
    )
    device = models.ForeignKey(
        "registry.Device",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("设备"),
    )
    reaction = models.ForeignKey(
        AdverseReaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
        verbose_name=_("不良反应"),
    )
    # A cluster (群体不良事件) links its members: incidents through ``cluster``, reactions here.
    is_cluster = models.BooleanField(_("群体不良事件"), default=False)
    cluster = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("所属群体事件"),
    )
    cluster_reactions = models.ManyToManyField(
        AdverseReaction, blank=True, related_name="clusters", verbose_name=_("群体事件中的不良反应")
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("报告人"),
    )
    reporter_name = models.CharField(_("报告人姓名"), max_length=64)
    reported_at = models.DateTimeField(_("报告时间"))
    status = models.CharField(
        _("状态"), max_length=8, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    graded_at = models.DateTimeField(_("定级时间"), null=True, blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("定级人"),
    )
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    # The regulatory report: the clock (policy id, blank when none is required), its deadline from discovery,
    # the moment of the "about to run out" notice, and the submission that stops the clock.
    report_clock = models.CharField(_("上报时限规则"), max_length=32, blank=True)
    report_due_at = models.DateTimeField(_("上报期限"), null=True, blank=True)
    report_warn_at = models.DateTimeField(_("临近期限提醒时间"), null=True, blank=True)
    report_warned_at = models.DateTimeField(_("已提醒时间"), null=True, blank=True)
    report_breached_at = models.DateTimeField(_("逾期升级时间"), null=True, blank=True)
    report_submitted_at = models.DateTimeField(_("上报时间"), null=True, blank=True)
    report_channel = models.CharField(_("上报途径"), max_length=12, choices=ReportChannel.choices, blank=True)
    report_reference = models.CharField(_("报告编号"), max_length=64, blank=True)
    report_submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("上报人"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(read_paths=(INST_ORG,), write_path=INST_ORG, write_roles=INCIDENT_REPORTERS)

    class Meta:
        verbose_name = _("不良事件")
        verbose_name_plural = _("不良事件")
        ordering = ["-discovered_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["reaction"], condition=Q(reaction__isnull=False), name="uniq_incident_reaction"
            ),
            models.CheckConstraint(
                condition=Q(report_clock="") | Q(report_due_at__isnull=False),
                name="aftercare_incident_clock_has_due",
            ),
        ]
        indexes = [
            models.Index(fields=["institution", "-discovered_at"], name="aftercare_inc_inst"),
            models.Index(fields=["report_submitted_at", "report_due_at"], name="aftercare_inc_clock"),
            models.Index(fields=["lot", "discovered_at"], name="aftercare_inc_lot"),
            models.Index(fields=["product", "discovered_at"], name="aftercare_inc_product"),
        ]

    def __str__(self) -> str:
        return self.title

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    @property
    def needs_report(self) -> bool:
        return bool(self.report_clock)

    def report_state(self, at: dt.datetime) -> str:
        if not self.report_clock or self.report_due_at is None:
            return ReportState.NONE
        if self.report_submitted_at is not None:
            return ReportState.ON_TIME if self.report_submitted_at <= self.report_due_at else ReportState.LATE
        return ReportState.OVERDUE if at >= self.report_due_at else ReportState.DUE


class _AppendOnly(models.Model):
    """Rows written once: ``save()`` refuses to change a stored row (sealing records are evidence)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)


class EvidenceSeal(_AppendOnly):
    """Physical evidence sealed jointly by both parties (suspected injection or drug harm, RP-04 Art. 25)."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="seals", verbose_name=_("不良事件")
    )
    items = models.TextField(_("封存物品"))  # one per line: vial, syringe, packaging …
    lot = models.ForeignKey(
        "registry.Lot",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("批次"),
    )
    sealed_at = models.DateTimeField(_("封存时间"))
    place = models.CharField(_("封存地点"), max_length=128)
    institution_rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("医疗机构代表")
    )
    institution_rep_name = models.CharField(_("医疗机构代表姓名"), max_length=64)
    client_party_name = models.CharField(_("患方代表姓名"), max_length=64)
    client_party_relation = models.CharField(_("与求美者关系"), max_length=32)
    keeper = models.CharField(_("保管方"), max_length=128)
    institution_confirmed = models.BooleanField(_("医疗机构代表确认"), default=False)
    client_confirmed = models.BooleanField(_("患方确认"), default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("记录人")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("incident__institution__organization",),
        write_path="incident__institution__organization",
        write_roles=INCIDENT_REPORTERS,
    )

    class Meta:
        verbose_name = _("实物封存")
        verbose_name_plural = _("实物封存")
        ordering = ["sealed_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(institution_confirmed=True, client_confirmed=True),
                name="aftercare_seal_both_parties",
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.sealed_at:%Y-%m-%d}"

    def audit_organization_id(self) -> int | None:
        return self.incident.institution.organization_id


class EvidenceUnseal(_AppendOnly):
    """The opening of a seal, again with both parties present."""

    seal = models.OneToOneField(
        EvidenceSeal, on_delete=models.PROTECT, related_name="unseal", verbose_name=_("实物封存")
    )
    unsealed_at = models.DateTimeField(_("启封时间"))
    place = models.CharField(_("启封地点"), max_length=128)
    purpose = models.CharField(_("启封原因"), max_length=200)
    institution_rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("医疗机构代表")
    )
    institution_rep_name = models.CharField(_("医疗机构代表姓名"), max_length=64)
    client_party_name = models.CharField(_("患方代表姓名"), max_length=64)
    client_party_relation = models.CharField(_("与求美者关系"), max_length=32)
    institution_confirmed = models.BooleanField(_("医疗机构代表确认"), default=False)
    client_confirmed = models.BooleanField(_("患方确认"), default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("记录人")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("seal__incident__institution__organization",),
        write_path="seal__incident__institution__organization",
        write_roles=INCIDENT_REPORTERS,
    )

    class Meta:
        verbose_name = _("实物启封")
        verbose_name_plural = _("实物启封")
        constraints = [
            models.CheckConstraint(
                condition=Q(institution_confirmed=True, client_confirmed=True),
                name="aftercare_unseal_both_parties",
            )
        ]

    def __str__(self) -> str:
        return f"{self.seal_id} {self.unsealed_at:%Y-%m-%d}"

    def audit_organization_id(self) -> int | None:
        return self.seal.incident.institution.organization_id


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value
