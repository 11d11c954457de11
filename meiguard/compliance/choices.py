"""Vocabulary of the monthly compliance report (ASCII values, Chinese labels)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.choices import INSTITUTION_WRITERS, Role

# Who may generate a report on demand and close a rectification item: the institution's admins, 授权专员, 医务科.
REPORT_WRITERS = INSTITUTION_WRITERS | {Role.MEDICAL_DIRECTOR}


class Unit(models.TextChoices):
    PERCENT = "percent", _("比例(%)")
    COUNT = "count", _("数量")


class Comparison(models.TextChoices):
    AT_LEAST = "gte", "≥"
    AT_MOST = "lte", "≤"
    EQUAL = "eq", "="


class FigureStatus(models.TextChoices):
    MET = "met", _("达标")
    OFF_TARGET = "off_target", _("未达标")
    NO_DATA = "no_data", _("本月无数据")
    INFO = "info", _("仅统计")


class Trigger(models.TextChoices):
    SCHEDULED = "scheduled", _("每月1日定时生成")
    ON_DEMAND = "on_demand", _("手动重新生成")


class RectificationStatus(models.TextChoices):
    OPEN = "open", _("整改中")
    CLOSED = "closed", _("已整改")
