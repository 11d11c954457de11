"""Notification texts of the inventory (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register(
    "inventory.recall",
    title=gettext_noop("召回(%(level)s级):%(product)s 批号 %(lots)s"),
    body=gettext_noop(
        "该批次已停止使用(核验即拒绝),库存已移入召回隔离区。请查看受影响的求美者并逐一告知,"
        "按召回级别在 %(due)s 前完成(医疗器械召回管理办法)。"
    ),
)
register(
    "inventory.recall_overdue",
    title=gettext_noop("召回已超时未完成:召回通知 %(notice)s(%(level)s级,期限 %(due)s)"),
    body=gettext_noop("请尽快告知受影响的求美者、处理隔离库存并在召回页面登记完成(医疗器械召回管理办法)。"),
)
