"""Notification texts of complaints (see notify/messages.py). They name the tracking number, the category and
the deadline — never the complainant."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register(
    "complaints.received",
    title=gettext_noop("新投诉 %(no)s(%(category)s),请于 %(due)s 前处理完毕"),
    body=gettext_noop("首诉负责制:受理人负责到底,移交须记录接收人和理由。依据:%(source)s"),
)
register(
    "complaints.handed_over",
    title=gettext_noop("投诉 %(no)s(%(category)s)已移交给您负责"),
    body=gettext_noop("处理时限 %(due)s。依据:%(source)s"),
)
register(
    "complaints.escalated",
    title=gettext_noop("会员机构提交投诉 %(no)s(%(category)s)请协会处理"),
    body=gettext_noop("处理时限 %(due)s。依据:%(source)s"),
)
register(
    "complaints.ack_warn",
    title=gettext_noop("投诉 %(no)s(%(category)s)即将超过回应时限 %(due)s"),
    body=gettext_noop("请尽快回应投诉人。依据:%(source)s"),
)
register(
    "complaints.ack_breach",
    title=gettext_noop("投诉 %(no)s(%(category)s)已超过回应时限 %(due)s"),
    body=gettext_noop("已通知医务科与授权专员。依据:%(source)s"),
)
register(
    "complaints.resolve_warn",
    title=gettext_noop("投诉 %(no)s(%(category)s)即将超过处理时限 %(due)s"),
    body=gettext_noop("请尽快记录处理结果。依据:%(source)s"),
)
register(
    "complaints.resolve_breach",
    title=gettext_noop("投诉 %(no)s(%(category)s)已超过处理时限 %(due)s"),
    body=gettext_noop("已通知医务科与授权专员。依据:%(source)s"),
)
