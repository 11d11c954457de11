"""Notification texts of stock and trace codes (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register(
    "inventory.trace_alert.scanned_again",
    title=gettext_noop("假冒/串货预警:%(kind)s %(code)s"),
    body=gettext_noop("该药品追溯码已使用过,不能重复使用;已发出假冒/串货预警"),
)
register(
    "inventory.trace_alert.not_received",
    title=gettext_noop("假冒/串货预警:%(kind)s %(code)s"),
    body=gettext_noop("该药品追溯码未在本机构验收入库,不能使用;已发出假冒/串货预警"),
)
register(
    "inventory.reconciliation_discrepancy",
    title=gettext_noop("高风险药品对账不符:%(product)s(%(day)s)"),
    body=gettext_noop(
        "病例记录使用 %(used)s,出库 %(issued)s,日终结存 %(on_hand)s。请核对专用账册与实物(账物相符),"
        "查明原因并记录;本提醒每天每个产品只发送一次。"
    ),
)
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
