"""``{% sla_badge complaint "ack"|"resolve" now %}``: a complaint clock as a labelled badge."""

from __future__ import annotations

import datetime as dt

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from meiguard.complaints.choices import SlaState
from meiguard.complaints.models import Complaint

register = template.Library()


@register.simple_tag
def sla_badge(c: Complaint, clock: str, now: dt.datetime) -> SafeString:
    state = c.ack_state(now) if clock == "ack" else c.resolve_state(now)
    html = render_to_string("complaints/partials/_sla.html", {"state": state, "label": SlaState(state).label})
    return mark_safe(html.strip())  # rendered by a template with autoescape
