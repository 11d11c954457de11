"""Notification texts of the monthly compliance report (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register(
    "compliance.rectification_raised",
    title=gettext_noop("月度合规报告偏离预警:%(institution)s %(month)s,请于 %(due)s 前整改"),
    body=gettext_noop("%(warning)s。依据:%(source)s"),
)
