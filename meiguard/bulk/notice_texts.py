"""Notification texts of bulk import (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register(
    "bulk.import_applied",
    title=gettext_noop("批量导入已完成:%(file)s"),
    body=gettext_noop(
        "%(who)s 导入了 %(kind)s:新增 %(create)s 行,更新 %(update)s 行,不变 %(unchanged)s 行。"
    ),
)
