"""``{% pending_approvals as n %}``: the header badge, one COUNT query (memoised on the request)."""

from __future__ import annotations

from typing import Any

from django import template

from meiguard.workflow.queries import pending_for

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_approvals(context: Any) -> int:
    request = context.get("request")
    actor = getattr(request, "actor", None)
    if actor is None or not actor.is_authenticated:
        return 0
    cached = getattr(request, "_pending_approvals", None)
    if cached is None:
        cached = pending_for(actor).count()
        request._pending_approvals = cached
    return int(cached)
