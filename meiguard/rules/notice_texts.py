"""Notification texts of rule packs (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

# body: one "rules.line.institution_impact" line per institution, passed as the "lines" parameter
register(
    "rules.version_effective",
    title=gettext_noop("规则包 %(version)s 于 %(date)s 生效,影响本机构的授权核验结果"),
)
register(
    "rules.line.institution_impact",
    title=gettext_noop(
        "%(name)s:%(tighter)s 项由允许变为不允许,%(looser)s 项由不允许变为允许,%(warn)s 项警示变化"
    ),
)
