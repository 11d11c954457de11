"""Review vocabulary: ASCII values, Chinese labels."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CampaignKind(models.TextChoices):
    ASSOCIATION = "association", _("协会审查")
    INTERNAL = "internal", _("机构内部审查")


class CampaignStatus(models.TextChoices):
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已结束")


class ItemCategory(models.TextChoices):
    DENIED_DECISIONS = "denied_decisions", _("超范围或授权失效的核验")
    EXPIRING_IN_USE = "expiring_in_use", _("即将到期仍在使用的授权")
    TRAINING_SHORT = "training_short", _("继续教育学分或培训学时不足")
    MONTHLY_CHECK = "monthly_check", _("月度内部检查")
    INVENTORY = "inventory", _("库存与使用(本季度)")


class ItemStatus(models.TextChoices):
    OPEN = "open", _("待检查")
    OK = "ok", _("合格")
    FINDING = "finding", _("发现问题")


class Severity(models.TextChoices):
    LOW = "low", _("一般")
    MEDIUM = "medium", _("较重")
    HIGH = "high", _("严重")


class FindingAction(models.TextChoices):
    WARN = "warn", _("警示")
    RETRAIN = "retrain", _("再培训")
    SUSPEND = "suspend", _("暂停授权")


# A recorded action may be escalated (warn → retrain → suspend), never weakened.
ACTION_RANK = {FindingAction.WARN: 1, FindingAction.RETRAIN: 2, FindingAction.SUSPEND: 3}


class FindingStatus(models.TextChoices):
    OPEN = "open", _("待整改")
    CLOSED = "closed", _("已关闭")
