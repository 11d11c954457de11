"""``{% can "workflow.apply" as ok %}`` / ``{% can "registry.change" object as ok %}``: the one permission
helper (``meiguard.core.permissions``) for templates, memoised per request."""

from __future__ import annotations

from typing import Any

from django import template

from meiguard.core.permissions import can_for_request

register = template.Library()


@register.simple_tag(takes_context=True)
def can(context: template.Context, name: str, obj: Any = None) -> bool:
    return can_for_request(context.get("request"), name, obj)
