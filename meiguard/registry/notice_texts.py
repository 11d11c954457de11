"""Notification texts of the registry (see notify/messages.py)."""

from django.utils.translation import gettext_noop

from meiguard.notify.messages import register

register("registry.site_request_received", title=gettext_noop("多点执业申请:%(host)s 申请登记 %(name)s"))
# the body is the decision note (data), passed as the "lines" parameter
register("registry.site_request_decided", title=gettext_noop("多点执业申请%(status)s:%(name)s"))
