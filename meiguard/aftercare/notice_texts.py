"""Notification texts of follow-ups and adverse reactions (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register(
    "aftercare.reaction_severe",
    title=gettext_noop("重度不良反应:病例 %(code)s,立即启动多学科会诊和应急处置"),
    body=gettext_noop("处置要求:%(steps)s。依据:%(source)s"),
)
register(
    "aftercare.reaction_reported",
    title=gettext_noop("%(grade)s不良反应:病例 %(code)s,请于 %(due)s 前处置"),
    body=gettext_noop("处置要求:%(steps)s。依据:%(source)s"),
)
register(
    "aftercare.reaction_warning",
    title=gettext_noop("不良反应处置即将超时:病例 %(code)s(%(grade)s),时限 %(due)s"),
    body=gettext_noop("须记录:%(steps)s。依据:%(source)s"),
)
register(
    "aftercare.reaction_breach",
    title=gettext_noop("不良反应处置已超时:病例 %(code)s(%(grade)s),时限 %(due)s"),
    body=gettext_noop("须记录:%(steps)s。已升级至医务科与授权专员。依据:%(source)s"),
)
register(
    "aftercare.follow_up_lost",
    title=gettext_noop("失访:%(what)s 多次未联系上"),
    body=gettext_noop("已按本机构规范重试 %(n)s 次仍未联系上求美者,记为失访。"),
)
register(
    "aftercare.follow_up_due",
    title=gettext_noop("今日随访:%(what)s"),
    body=gettext_noop("应随访时间 %(at)s;未联系上请记录,系统按本机构规范安排重试。"),
)
register(
    "aftercare.follow_up_overdue",
    title=gettext_noop("随访已逾期:%(what)s"),
    body=gettext_noop("应随访时间 %(at)s;未联系上请记录,系统按本机构规范安排重试。"),
)
