"""Vocabulary of complaints (ASCII values, Chinese labels)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.choices import Role

# Who oversees every complaint of an institution (医务科 handles complaints; 授权专员 and the admins see them too).
COMPLAINT_OFFICERS = frozenset({Role.INSTITUTION_ADMIN, Role.MEDICAL_DIRECTOR, Role.COMPLIANCE_OFFICER})
# Who may take a complaint at first contact (首诉负责制): the officers and the clinical staff. Doctors and nurses
# see only the complaints they took or were handed.
COMPLAINT_STAFF = frozenset({Role.DOCTOR, Role.NURSE})
COMPLAINT_TAKERS = COMPLAINT_OFFICERS | COMPLAINT_STAFF
# Association staff act on complaints escalated to their organisation.
ASSOCIATION_HANDLERS = frozenset({Role.AUDITOR})


class Channel(models.TextChoices):
    PHONE = "phone", _("电话")
    WALK_IN = "walk_in", _("现场")
    LETTER = "letter", _("信函")
    ONLINE = "online", _("网络")
    ASSOCIATION = "association", _("协会转办")
    PUBLIC = "public", _("公众投诉页面")


# Channels staff may choose at intake (``public`` is set only by the public form's own entry point).
STAFF_CHANNELS = tuple(c for c in Channel.values if c != Channel.PUBLIC)


class Category(models.TextChoices):
    SERVICE = "service", _("服务态度")
    PRICE = "price", _("价格收费")
    OUTCOME = "outcome", _("治疗效果")
    ADVERSE = "adverse", _("不良反应")
    PRIVACY = "privacy", _("隐私保护")
    ADVERTISING = "advertising", _("广告与虚假宣传")
    OTHER = "other", _("其他")


class Status(models.TextChoices):
    RECEIVED = "received", _("已受理")
    ACKNOWLEDGED = "acknowledged", _("已回应")
    INVESTIGATING = "investigating", _("调查处理中")
    RESOLVED = "resolved", _("已处理")
    ESCALATED = "escalated", _("已提交协会")
    CLOSED = "closed", _("已结案")
    WITHDRAWN = "withdrawn", _("已撤回")


OPEN_STATUSES = (
    Status.RECEIVED,
    Status.ACKNOWLEDGED,
    Status.INVESTIGATING,
    Status.ESCALATED,
)


class EventKind(models.TextChoices):
    RECEIVED = "received", _("受理")
    RESOLVED_ON_SPOT = "on_spot", _("当场处理")
    ACKNOWLEDGED = "acknowledged", _("回应投诉人")
    INVESTIGATING = "investigating", _("开始调查")
    NOTE = "note", _("调查记录")
    HANDOVER = "handover", _("移交")
    RESOLVED = "resolved", _("处理结果")
    ESCALATED = "escalated", _("提交协会")
    CLOSED = "closed", _("结案")
    WITHDRAWN = "withdrawn", _("撤回")


class SlaState(models.TextChoices):
    RUNNING = "running", _("计时中")
    DUE_SOON = "due_soon", _("临近时限")
    OVERDUE = "overdue", _("已超时")
    ON_TIME = "on_time", _("按时完成")
    LATE = "late", _("超时完成")
