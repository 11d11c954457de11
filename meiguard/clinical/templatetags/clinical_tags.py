from __future__ import annotations

from typing import Any

from django import template

from meiguard.clinical.permissions import uses_clinical

register = template.Library()


@register.simple_tag(takes_context=True)
def clinical_nav(context: Any) -> bool:
    request = context.get("request")
    return uses_clinical(getattr(request, "actor", None))
