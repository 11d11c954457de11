from django import template

from meiguard.notify.services import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: template.Context) -> int:
    user = context.get("user")
    return unread_count(user.pk) if user is not None and user.is_authenticated else 0
