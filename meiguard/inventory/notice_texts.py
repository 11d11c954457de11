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
