"""Device-file vocabulary: what kind of upkeep, its result, who performed it."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class UpkeepKind(models.TextChoices):
    ACCEPTANCE = "acceptance", _("验收")
    INSTALLATION = "installation", _("安装调试")
    INSPECTION = "inspection", _("巡检")
    CALIBRATION = "calibration", _("检测校准/性能检测")
    REPAIR = "repair", _("维修")
    SCRAPPING = "scrapping", _("报废")


# Checks: a failed one takes the device out of service until a later passing record of the same kind.
CHECK_KINDS = frozenset(
    {UpkeepKind.ACCEPTANCE, UpkeepKind.INSTALLATION, UpkeepKind.INSPECTION, UpkeepKind.CALIBRATION}
)


class UpkeepResult(models.TextChoices):
    PASS = "pass", _("合格")
    FAIL = "fail", _("不合格")


class Performer(models.TextChoices):
    STAFF = "staff", _("本机构人员")
    ENGINEER = "engineer", _("厂家工程师")


class UpkeepState(models.TextChoices):
    """What the device list shows for a device's upkeep (derived, never stored)."""

    OK = "ok", _("正常")
    DUE_SOON = "due_soon", _("即将到期")
    OVERDUE = "overdue", _("已逾期")
    OUT_OF_SERVICE = "out_of_service", _("停用")
    SCRAPPED = "scrapped", _("已报废")


# Days before a due date at which the device's keepers are reminded (and the list says "due soon").
REMIND_DAYS_BEFORE = 7
