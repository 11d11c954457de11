"""``{% lot_reaction_flag lot as flag %}``: the lot's adverse reactions in its institution's window against its
threshold (institution policy), for the clinical lot page. A template tag, so clinical's Python never imports
aftercare."""

from __future__ import annotations

from typing import Any

from django import template

from meiguard.aftercare import queries

register = template.Library()


@register.simple_tag(takes_context=True)
def lot_reaction_flag(context: Any, lot: Any) -> queries.LotFlag | None:
    request = context.get("request")
    actor = getattr(request, "actor", None)
    if actor is None or lot is None:
        return None
    return queries.lot_flag(actor, lot.pk)


@register.simple_tag
def incident_report_state(incident: Any, at: Any) -> str:
    """``{% incident_report_state incident now as state %}``: none / due / overdue / on_time / late."""
    return str(incident.report_state(at))
