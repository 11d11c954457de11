"""Labels for authz codes in templates: stored reasons, authorization kinds and statuses, snapshot facts."""

from __future__ import annotations

from typing import Any

from django import template

from meiguard.registry.choices import InstitutionStatus, PractitionerStatus
from meiguard.rules.choices import Profession
from meiguard.rules.templatetags.rules_extras import choice_label

from ..choices import AuthorizationKind, AuthorizationStatus
from ..reasons import message_for

register = template.Library()


@register.filter
def reason_text(reason: Any) -> str:
    """A stored reason ({code, facts, …} in the decision log) as its message in the reader's language."""
    if isinstance(reason, dict):
        return message_for(str(reason.get("code", "")), reason.get("facts") or {})
    return message_for(str(reason))


@register.filter
def authorization_kind_label(value: Any) -> str:
    return choice_label(AuthorizationKind, value)


@register.filter
def authorization_status_label(value: Any) -> str:
    return choice_label(AuthorizationStatus, value)


@register.filter
def institution_status_label(value: Any) -> str:
    return choice_label(InstitutionStatus, value)


@register.filter
def practitioner_status_label(value: Any) -> str:
    return choice_label(PractitionerStatus, value)


@register.filter
def profession_label(value: Any) -> str:
    return choice_label(Profession, value)
