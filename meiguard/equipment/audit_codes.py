"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "equipment.upkeeprecord.created": _("设备维护记录录入"),
    "equipment.device.upkeep_applied": _("设备状态与检查日期随维护记录更新"),
    "equipment.device.reminded": _("设备检查校准到期提醒"),
}
