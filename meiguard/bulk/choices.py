"""Bulk import/export vocabulary."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    """Which sheets a workbook holds; ``full`` holds all three so rows can refer to each other."""

    PRACTITIONERS = "practitioners", _("执业人员")
    QUALIFICATIONS = "qualifications", _("资质")
    AUTHORIZATIONS = "authorizations", _("授权")
    FULL = "full", _("人员、资质与授权(全套)")


class RunMode(models.TextChoices):
    DRY_RUN = "dry_run", _("试运行")
    APPLY = "apply", _("正式导入")


class RunStatus(models.TextChoices):
    VALID = "valid", _("校验通过")
    INVALID = "invalid", _("有错误")
    APPLIED = "applied", _("已导入")
    FAILED = "failed", _("导入失败,未写入")


class RowAction(models.TextChoices):
    CREATE = "create", _("新增")
    UPDATE = "update", _("更新")
    UNCHANGED = "unchanged", _("不变")
    ERROR = "error", _("有错误")
