"""Applications for an authorization, their evidence, the approval steps and votes, and expert committees.

Every row belongs to the institution the application is filed at (tenant-scoped through it). Writes
happen only in ``actions.py``; reads go through ``visible_to`` / ``writable_by`` in ``queries.py``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from meiguard.authz.choices import AuthorizationKind, TechnologyKind
from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.registry.validators import validate_evidence_file
from meiguard.rules.choices import Subject

from .choices import (
    APPLY_ROLES,
    COMMITTEE_WRITERS,
    ApplicationStatus,
    EvidenceKind,
    RiskLevel,
    Stage,
    StepStatus,
    Verdict,
)

EVIDENCE_UPLOAD = "evidence/applications/%Y/%m/"


class ExpertCommittee(models.Model):
    """An institution's expert committee (e.g. 医疗技术临床应用管理委员会): N of its M members must approve."""

    institution = models.OneToOneField(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="expert_committee",
        verbose_name=_("机构"),
    )
    name = models.CharField(_("名称"), max_length=128)
    quorum = models.PositiveSmallIntegerField(_("通过所需同意票数(N)"), default=2)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="expert_committees", blank=True, verbose_name=_("委员")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institution__organization",),
        write_path="institution__organization",
        write_roles=COMMITTEE_WRITERS,
    )

    class Meta:
        verbose_name = _("专家委员会")
        verbose_name_plural = _("专家委员会")
        ordering = ["institution_id"]
        constraints = [models.CheckConstraint(condition=Q(quorum__gte=1), name="wf_committee_quorum_min")]

    def __str__(self) -> str:
        return self.name

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    def audit_extra(self) -> dict[str, Any]:
        if self.pk is None:
            return {}
        return {"members": sorted(self.members.values_list("pk", flat=True))}


class Application(models.Model):
    """授权申请: the requested authorization (mirroring ``authz.Authorization``) and where it stands."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="applications", verbose_name=_("机构")
    )
    practitioner = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("申请授权人员"),
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    on_behalf = models.BooleanField(_("代为申请"), default=False)
    # The requested authorization (see authz.models.Authorization).
    kind = models.CharField(_("授权类型"), max_length=16, choices=AuthorizationKind.choices)
    grantor = models.CharField(_("授权方"), max_length=128, blank=True)
    procedure_code = models.CharField(_("项目编码"), max_length=64, blank=True)
    procedure_category = models.CharField(_("项目类别"), max_length=32, blank=True)
    subject = models.CharField(_("专业"), max_length=32, choices=Subject.choices, blank=True)
    product_brand = models.CharField(_("产品品牌"), max_length=128, blank=True)
    device_model = models.CharField(_("设备型号"), max_length=128, blank=True)
    technology_name = models.CharField(_("技术名称"), max_length=128, blank=True)
    technology_kind = models.CharField(
        _("技术授权类别"), max_length=16, choices=TechnologyKind.choices, blank=True
    )
    scope_note = models.TextField(_("范围说明"), blank=True)
    valid_from = models.DateField(_("申请生效日期"))
    valid_until = models.DateField(_("申请截止日期"), null=True, blank=True)
    max_grade = models.PositiveSmallIntegerField(_("最高手术级别"), null=True, blank=True)
    supervisor = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("指定指导主诊医师"),
    )
    justification = models.TextField(_("申请理由"), blank=True)
    # Computed (workflow.policy.assess_risk) on every save of the draft and again at submission.
    risk_level = models.CharField(_("风险等级"), max_length=8, choices=RiskLevel.choices, blank=True)
    risk_reasons = models.JSONField(_("风险依据"), default=list, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT
    )
    status_reason = models.TextField(_("状态说明"), blank=True)
    round = models.PositiveSmallIntegerField(_("提交轮次"), default=0)
    # Deny reason codes the "what's missing" preview listed when the application was last submitted.
    gaps_at_submission = models.JSONField(_("提交时的缺项"), default=list, blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    decided_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    authorization = models.OneToOneField(
        "authz.Authorization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="application",
        verbose_name=_("生成的授权"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institution__organization",),
        write_path="institution__organization",
        write_roles=APPLY_ROLES,
    )

    class Meta:
        verbose_name = _("授权申请")
        verbose_name_plural = _("授权申请")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["institution", "status"], name="wf_app_inst_status"),
            models.Index(fields=["applicant", "status"], name="wf_app_applicant_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="wf_app_valid_range",
            ),
            models.CheckConstraint(
                condition=Q(max_grade__isnull=True) | Q(max_grade__gte=1, max_grade__lte=4),
                name="wf_app_max_grade_range",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} · {self.scope_label()}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    def scope_label(self) -> str:
        from meiguard.rules.labels import procedure_name

        subject = self.get_subject_display() if self.subject else ""
        target = procedure_name(self.procedure_code) or self.procedure_category or subject
        target = target or self.product_brand
        return target or self.device_model or self.technology_name

    @property
    def is_editable(self) -> bool:
        return self.status in (ApplicationStatus.DRAFT, ApplicationStatus.RETURNED)


class ApprovalStep(models.Model):
    """One level of the route of one submission round; ``required_approvals`` of ``pool_size`` must agree."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="steps", verbose_name=_("申请")
    )
    round = models.PositiveSmallIntegerField(_("提交轮次"))
    order = models.PositiveSmallIntegerField(_("顺序"))
    stage = models.CharField(_("审批环节"), max_length=24, choices=Stage.choices)
    required_approvals = models.PositiveSmallIntegerField(_("所需同意票数"), default=1)
    pool_size = models.PositiveSmallIntegerField(_("可投票人数"), default=0)
    committee = models.ForeignKey(
        ExpertCommittee,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="steps",
        verbose_name=_("专家委员会"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=StepStatus.choices, default=StepStatus.WAITING
    )
    opened_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    decided_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("application__institution__organization",),
        write_path="application__institution__organization",
        write_roles=frozenset(),  # changed only by actions.act / submit, which check who may act
    )

    class Meta:
        verbose_name = _("审批环节")
        verbose_name_plural = _("审批环节")
        ordering = ["application_id", "round", "order"]
        constraints = [
            models.UniqueConstraint(fields=["application", "round", "order"], name="wf_step_unique_order"),
            models.CheckConstraint(condition=Q(required_approvals__gte=1), name="wf_step_required_min"),
        ]
        indexes = [models.Index(fields=["status", "stage"], name="wf_step_status_stage")]

    def __str__(self) -> str:
        return f"#{self.application_id} {self.get_stage_display()} ({self.get_status_display()})"

    def audit_organization_id(self) -> int | None:
        return self.application.institution.organization_id


class ApprovalVote(models.Model):
    """One approver's verdict on one step (one vote per person per step)."""

    step = models.ForeignKey(
        ApprovalStep, on_delete=models.PROTECT, related_name="votes", verbose_name=_("环节")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("审批人")
    )
    verdict = models.CharField(_("意见"), max_length=8, choices=Verdict.choices)
    comment = models.TextField(_("审批意见说明"), blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("step__application__institution__organization",),
        write_path="step__application__institution__organization",
        write_roles=frozenset(),
    )

    class Meta:
        verbose_name = _("审批意见")
        verbose_name_plural = _("审批意见")
        ordering = ["step_id", "created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["step", "user"], name="wf_vote_once_per_step")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_verdict_display()}"

    def audit_organization_id(self) -> int | None:
        return self.step.application.institution.organization_id


class Evidence(models.Model):
    """A supporting document: an uploaded file and/or a registry qualification of the practitioner."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("申请")
    )
    kind = models.CharField(_("材料类型"), max_length=16, choices=EvidenceKind.choices)
    file = models.FileField(
        _("文件"), upload_to=EVIDENCE_UPLOAD, blank=True, validators=[validate_evidence_file]
    )
    original_name = models.CharField(_("原文件名"), max_length=200, blank=True)
    note = models.TextField(_("说明"), blank=True)
    qualification = models.ForeignKey(
        "registry.Qualification",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("关联资质"),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人")
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    # Removal keeps the row (and file) for the record; removed evidence no longer counts.
    removed_at = models.DateTimeField(_("移除时间"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("application__institution__organization",),
        write_path="application__institution__organization",
        write_roles=APPLY_ROLES,
    )

    class Meta:
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")
        ordering = ["application_id", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name or ''}".strip()

    def audit_organization_id(self) -> int | None:
        return self.application.institution.organization_id
