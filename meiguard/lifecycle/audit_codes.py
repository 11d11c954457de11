"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

CODES: dict[str, str] = {
    "lifecycle.reminder.sent": "到期提醒发送",
    "lifecycle.reminder.chased": "到期事项催办",
    "lifecycle.jobrun.enqueued": "定时任务排队",
    "lifecycle.jobrun.finished": "定时任务完成",
    "lifecycle.jobrun.failed": "定时任务失败",
}
