from django.db import models
from django.utils.translation import gettext_lazy as _


class AuthorizationKind(models.TextChoices):
    QUALIFICATION = "qualification", _("资质授权(项目)")
    PRODUCT = "product", _("产品授权")
    DEVICE = "device", _("设备授权")
    TECHNOLOGY = "technology", _("技术授权")


class AuthorizationStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("生效")
    SUSPENDED = "suspended", _("暂停")
    REVOKED = "revoked", _("撤销")
    EXPIRED = "expired", _("到期")


class TechnologyKind(models.TextChoices):
    NEW = "new", _("新技术研发")
    TRANSFER = "transfer", _("成熟技术转让")


class DecisionChannel(models.TextChoices):
    API = "api", _("接口")
    BATCH = "batch", _("批量接口")
    UI = "ui", _("页面")
    CLI = "cli", _("命令行")
