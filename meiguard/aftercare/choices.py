"""Vocabulary of aftercare (ASCII values, Chinese labels)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.clinical.choices import CLINICAL_WRITERS

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
