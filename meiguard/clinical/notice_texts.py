"""Notification texts of treatment cases (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register(
    "clinical.checklist_due",
    title=gettext_noop("手术安全核查未完成:病例 %(code)s(%(procedure)s)“%(node)s”"),
    body=gettext_noop("请相关各方尽快完成该节点的核查并签名(手术安全核查制度);本提醒每个节点只发送一次。"),
)
