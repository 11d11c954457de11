"""Notification texts of the approval workflow, rendered in the reader's language (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

_APPLICATION_TITLE = gettext_noop("授权申请 #%(pk)s %(status)s:%(who)s · %(scope)s")

register(
    "workflow.step_open",
    title=gettext_noop("待审批:%(who)s 的%(kind)s申请 #%(pk)s(%(stage)s)"),
    body=gettext_noop("范围:%(scope)s;风险等级:%(risk)s。请在“待我审批”中处理。"),
)
register(
    "workflow.application_approved",
    title=_APPLICATION_TITLE,
    body=gettext_noop("已生成并生效授权 #%(auth)s。"),
)
register(
    "workflow.application_updated",
    title=_APPLICATION_TITLE,
    body=gettext_noop("审批意见:%(comment)s"),
)
register(
    "workflow.step_waiting",
    title=gettext_noop("审批已等待 %(days)s 天:%(who)s 的%(kind)s申请 #%(pk)s(%(stage)s)"),
    body=gettext_noop("请在“待我审批”中处理;逾期未处理的申请会拖延执业人员的授权。"),
)
