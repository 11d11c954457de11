"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "lifecycle.reminder.sent": _("到期提醒发送"),
    "lifecycle.reminder.chased": _("到期事项催办"),
    "lifecycle.jobrun.enqueued": _("定时任务排队"),
    "lifecycle.jobrun.finished": _("定时任务完成"),
    "lifecycle.jobrun.failed": _("定时任务失败"),
}
