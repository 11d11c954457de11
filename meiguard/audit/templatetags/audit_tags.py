from typing import Any

from django import template

from meiguard.audit import display

register = template.Library()


@register.filter
def readable(entries: list[Any]) -> list[Any]:
    """``{% for e in history|readable %}``: entries with ``action_label`` and ``readable_changes``."""
    return display.describe(list(entries))
