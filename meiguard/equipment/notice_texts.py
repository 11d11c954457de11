"""Notification texts of the device file (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register(
    "equipment.upkeep_overdue",
    title=gettext_noop("设备%(what)s已逾期:%(device)s(应于 %(due)s 前完成)"),
    body=gettext_noop("逾期设备不得使用(核验会拒绝),请尽快完成并录入设备档案。"),
)
register(
    "equipment.upkeep_due",
    title=gettext_noop("设备%(what)s即将到期:%(device)s(%(due)s)"),
    body=gettext_noop("请在到期前完成并录入设备档案;本提醒只发送一次。"),
)
