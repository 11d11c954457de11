"""Vocabulary of applications and approvals (ASCII values, Chinese labels)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.choices import Role


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    IN_REVIEW = "in_review", _("审批中")
    RETURNED = "returned", _("退回补充")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已驳回")
    WITHDRAWN = "withdrawn", _("已撤回")


# The applicant may edit, attach evidence and (re)submit only in these states.
EDITABLE_STATUSES = frozenset({ApplicationStatus.DRAFT, ApplicationStatus.RETURNED})
FINAL_STATUSES = frozenset(
    {ApplicationStatus.APPROVED, ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN}
)


class RiskLevel(models.TextChoices):
    LOW = "low", _("低风险")
    MEDIUM = "medium", _("中风险")
    HIGH = "high", _("高风险")


RISK_ORDER = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


class Stage(models.TextChoices):
    MEDICAL_DIRECTOR = "medical_director", _("医务科审核")
    COMPLIANCE_OFFICER = "compliance_officer", _("授权专员审核")
    EXPERT_COMMITTEE = "expert_committee", _("专家委员会评审")


# Who may act on a single-person stage: the holders of this role at the institution.
STAGE_ROLES = {
    Stage.MEDICAL_DIRECTOR: Role.MEDICAL_DIRECTOR,
    Stage.COMPLIANCE_OFFICER: Role.COMPLIANCE_OFFICER,
}


class StepStatus(models.TextChoices):
    WAITING = "waiting", _("待开始")
    OPEN = "open", _("审批中")
    APPROVED = "approved", _("通过")
    REJECTED = "rejected", _("驳回")
    RETURNED = "returned", _("退回补充")
    CANCELLED = "cancelled", _("已取消")


class Verdict(models.TextChoices):
    APPROVE = "approve", _("同意")
    REJECT = "reject", _("驳回")
    RETURN = "return", _("退回补充材料")


class EvidenceKind(models.TextChoices):
    CERTIFICATE = "certificate", _("资质证书")
    TRAINING = "training", _("培训证明")
    CASE_LOG = "case_log", _("病例记录")
    OTHER = "other", _("其他材料")


# Roles that may file an application at an institution. Doctors and nurses apply for themselves only;
# the managing roles may also apply on behalf of a practitioner (or for the institution itself).
SELF_APPLY_ROLES = frozenset({Role.DOCTOR, Role.NURSE})
ON_BEHALF_ROLES = frozenset({Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER, Role.MEDICAL_DIRECTOR})
APPLY_ROLES = SELF_APPLY_ROLES | ON_BEHALF_ROLES
# Who may configure the expert committee, and who may withdraw someone else's application.
COMMITTEE_WRITERS = frozenset({Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER})
