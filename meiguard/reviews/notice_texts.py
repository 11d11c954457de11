"""Notification texts of review campaigns (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register(
    "reviews.campaign_opened",
    title=gettext_noop("%(inst)s:%(period)s 协会定期审查已开始"),
    body=gettext_noop("请配合审查,关注检查清单和发现的问题。"),
)
# finding notices: the body is the finding's description (data), passed as the "lines" parameter
register("reviews.finding_warn", title=gettext_noop("定期审查警示:%(who)s(%(inst)s %(period)s)"))
register("reviews.finding_retrain", title=gettext_noop("定期审查要求再培训:%(who)s,须于 %(due)s 前完成"))
register("reviews.finding_suspend", title=gettext_noop("定期审查暂停授权 #%(auth)s:%(who)s"))
