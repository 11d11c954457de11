"""Vocabulary of aftercare (ASCII values, Chinese labels)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.clinical.choices import CLINICAL_WRITERS
from meiguard.core.choices import Role

# Who may record follow-ups and reactions at an institution: the clinical staff.
AFTERCARE_WRITERS = CLINICAL_WRITERS


class FollowUpKind(models.TextChoices):
    CONTACT = "contact", _("术后随访")
    EVALUATION_SHORT = "evaluation_short", _("短期效果评估")
    EVALUATION_LONG = "evaluation_long", _("长期效果评估")


class FollowUpStatus(models.TextChoices):
    DUE = "due", _("待随访")
    DONE = "done", _("已随访")
    MISSED = "missed", _("未联系上,待重试")
    LOST = "lost", _("失访")


OPEN_FOLLOW_UP = (FollowUpStatus.DUE, FollowUpStatus.MISSED)


class Recovery(models.TextChoices):
    GOOD = "good", _("恢复良好")
    SLOW = "slow", _("恢复较慢")
    POOR = "poor", _("恢复不良")


class ReactionGrade(models.TextChoices):
    MILD = "mild", _("轻度")
    MODERATE = "moderate", _("中度")
    SEVERE = "severe", _("重度")


class ReactionSource(models.TextChoices):
    FOLLOW_UP = "follow_up", _("随访发现")
    STAFF = "staff", _("工作人员报告")
    API = "api", _("系统接口")
    CLIENT = "client", _("求美者报告")


class ReactionStatus(models.TextChoices):
    OPEN = "open", _("处置中")
    RESOLVED = "resolved", _("已处置")


class StepKind(models.TextChoices):
    GUIDANCE = "guidance", _("护士指导处理")
    REVISIT = "revisit", _("主诊医师复诊")
    MDT = "mdt", _("多学科会诊")
    EMERGENCY = "emergency", _("启动应急处置流程")
    NOTE = "note", _("跟踪记录")
    RESOLVED = "resolved", _("处置完毕")


class ClockState(models.TextChoices):
    RUNNING = "running", _("计时中")
    OVERDUE = "overdue", _("已超时")
    ON_TIME = "on_time", _("按时处置")
    LATE = "late", _("超时处置")


# ---- incidents and regulatory reports (docs/aftercare.md, "Incidents and regulatory reports") --------------

# Who grades, closes and submits incidents: 医务科, 授权专员 and the institution's admins.
INCIDENT_MANAGERS = frozenset({Role.INSTITUTION_ADMIN, Role.MEDICAL_DIRECTOR, Role.COMPLIANCE_OFFICER})
# Any staff member of the institution may report an incident or a hazard (seed 004 §二).
INCIDENT_REPORTERS = frozenset(
    {
        Role.INSTITUTION_ADMIN,
        Role.MEDICAL_DIRECTOR,
        Role.COMPLIANCE_OFFICER,
        Role.DOCTOR,
        Role.NURSE,
        Role.PROCUREMENT,
    }
)


class IncidentKind(models.TextChoices):
    DEVICE_AE = "device_ae", _("医疗器械不良事件")
    DRUG_ADR = "drug_adr", _("药品不良反应")
    QUALITY_EVENT = "quality_event", _("医疗质量安全事件/医疗差错")
    HAZARD = "hazard", _("隐患(未遂事件)")


class IncidentGrade(models.TextChoices):
    I = "I", _("I级 警讯事件")  # noqa: E741
    II = "II", _("II级 不良后果事件")
    III = "III", _("III级 未造成后果事件")
    IV = "IV", _("IV级 隐患事件")


SERIOUS_GRADES = (IncidentGrade.I, IncidentGrade.II)


class Severity(models.TextChoices):
    """The severity that sets the regulatory clock; which values apply depends on the kind."""

    DEATH = "death", _("死亡")
    SERIOUS = "serious", _("严重伤害")
    SERIOUS_OR_NEW = "serious_new", _("严重或新的不良反应")
    OTHER = "other", _("其他")
    EXTRA_MAJOR = "extra_major", _("特大事件")
    MAJOR = "major", _("重大事件")
    GENERAL = "general", _("一般事件")
    NONE = "none", _("未造成损害")


SEVERITIES_BY_KIND: dict[str, tuple[str, ...]] = {
    IncidentKind.DEVICE_AE: (Severity.DEATH, Severity.SERIOUS, Severity.OTHER),
    IncidentKind.DRUG_ADR: (Severity.DEATH, Severity.SERIOUS_OR_NEW, Severity.OTHER),
    IncidentKind.QUALITY_EVENT: (Severity.EXTRA_MAJOR, Severity.MAJOR, Severity.GENERAL),
    IncidentKind.HAZARD: (Severity.NONE,),
}


class IncidentStatus(models.TextChoices):
    OPEN = "open", _("处理中")
    CLOSED = "closed", _("已结案")


class ReportState(models.TextChoices):
    NONE = "none", _("无须上报")
    DUE = "due", _("待上报")
    OVERDUE = "overdue", _("已逾期未上报")
    ON_TIME = "on_time", _("按时上报")
    LATE = "late", _("逾期上报")


class ReportChannel(models.TextChoices):
    ONLINE = "online", _("国家监测信息系统网上直报")
    PHONE_FAX = "phone_fax", _("电话/传真")
    PAPER = "paper", _("纸质报表")
    OTHER = "other", _("其他")
