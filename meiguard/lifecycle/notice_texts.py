"""Notification texts of expiry reminders and authorization status changes (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register("lifecycle.expired", title=gettext_noop("已过期:%(kind)s「%(label)s」已于 %(date)s 过期"))
register(
    "lifecycle.reminder",
    title=gettext_noop("到期提醒:%(kind)s「%(label)s」将于 %(date)s 到期(还剩 %(days)s 天)"),
)
register("lifecycle.chase", title=gettext_noop("催办:%(title)s"))
register("lifecycle.line.holder", title=gettext_noop("持有人:%(holder)s"))
register("lifecycle.line.institution", title=gettext_noop("机构:%(name)s"))
register("lifecycle.line.threshold", title=gettext_noop("提醒档:到期前 %(threshold)s 天"))
register(
    "lifecycle.line.expired_action",
    title=gettext_noop("过期批次不得使用,核验会拒绝使用该批次;请隔离、退货或报损处理。"),
)
register("lifecycle.line.renew_action", title=gettext_noop("请及时办理续期或更新登记,到期后核验将不予通过。"))

register("lifecycle.authz.suspend", title=gettext_noop("授权已暂停:%(label)s"))
register("lifecycle.authz.reinstate", title=gettext_noop("授权已恢复:%(label)s"))
register("lifecycle.authz.revoke", title=gettext_noop("授权已撤销:%(label)s"))
register("lifecycle.authz.expire", title=gettext_noop("授权已到期失效:%(label)s"))
register("lifecycle.line.grantee", title=gettext_noop("被授权人:%(holder)s"))
register("lifecycle.line.reason", title=gettext_noop("原因:%(reason)s"))
register("lifecycle.effect.suspend", title=gettext_noop("自即刻起,核验将拒绝该授权范围内的操作,直至恢复。"))
register("lifecycle.effect.reinstate", title=gettext_noop("自即刻起,该授权重新生效,核验恢复允许。"))
register("lifecycle.effect.revoke", title=gettext_noop("该授权已终止,核验将拒绝相关操作。"))
register(
    "lifecycle.effect.expire",
    title=gettext_noop("授权期限届满,核验将拒绝相关操作;如需继续执业请办理续期。"),
)
register("lifecycle.effect.renewed", title=gettext_noop("已由续期授权 #%(successor)s 接续,核验不受影响。"))
