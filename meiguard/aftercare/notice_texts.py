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
register(
    "aftercare.incident_reported",
    title=gettext_noop("不良事件待上报:%(title)s(%(kind)s,%(grade)s),上报期限 %(due)s"),
    body=gettext_noop("自发现起%(within)s向监管部门报告。依据:%(source)s"),
)
register(
    "aftercare.incident_internal",
    title=gettext_noop("新登记不良事件/隐患:%(title)s(%(kind)s,%(grade)s)"),
    body=gettext_noop("无须向监管部门上报,请在本机构内定级处理。"),
)
register(
    "aftercare.incident_cluster",
    title=gettext_noop("群体不良事件:%(title)s,上报期限 %(due)s"),
    body=gettext_noop("统计窗口内已有 %(n)s 例事件;自发现起%(within)s报告。依据:%(source)s"),
)
register(
    "aftercare.incident_report_warning",
    title=gettext_noop("不良事件上报即将到期:%(title)s,期限 %(due)s"),
    body=gettext_noop("%(kind)s须自发现起%(within)s报告,尚未记录上报。依据:%(source)s"),
)
register(
    "aftercare.incident_report_breach",
    title=gettext_noop("不良事件上报已逾期:%(title)s,期限 %(due)s"),
    body=gettext_noop(
        "%(kind)s须自发现起%(within)s报告,至今未记录上报,请立即上报并说明原因。依据:%(source)s"
    ),
)
