"""Display helpers for rule-pack pages: choice labels and compact values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import template
from django.utils.translation import gettext as _

from meiguard.rules.choices import (
    Anesthesia,
    Invasiveness,
    RuleKind,
    RuleLevel,
    RuleOp,
    Subject,
    VersionStatus,
)

register = template.Library()


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return "" if value is None else str(value)


@register.filter
def kind_label(value: str) -> str:
    return _label(RuleKind, value)


@register.filter
def op_label(value: str) -> str:
    return _label(RuleOp, value)


@register.filter
def level_label(value: str) -> str:
    return _label(RuleLevel, value)


@register.filter
def subject_label(value: str) -> str:
    return _label(Subject, value)


@register.filter
def invasive_label(value: str) -> str:
    return _label(Invasiveness, value)


@register.filter
def anesthesia_label(value: str | None) -> str:
    return _label(Anesthesia, value) if value else "—"


@register.filter
def status_label(value: str) -> str:
    return _label(VersionStatus, value)


@register.filter
def show(value: Any) -> str:
    """A compact rendering of a rule value (lists joined, booleans as 是/否, None as —)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list | tuple):
        return "、".join(show(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return json.dumps(dict(value), ensure_ascii=False, sort_keys=True)
    return str(value)


@register.filter
def data_items(rule: Any) -> list[tuple[str, Any]]:
    data = getattr(rule, "data", None) or {}
    return sorted(data.items())
