"""Display helpers for rule-pack pages: choice labels and compact values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import template
from django.utils import translation
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


def choice_label(choices: Any, value: Any) -> str:
    """A stored choice value as its label in the active language (the value itself if unknown, "" if empty)."""
    try:
        return str(choices(value).label)
    except ValueError:
        return "" if value is None else str(value)


@register.filter
def kind_label(value: str) -> str:
    return choice_label(RuleKind, value)


@register.filter
def op_label(value: str) -> str:
    return choice_label(RuleOp, value)


@register.filter
def level_label(value: str) -> str:
    return choice_label(RuleLevel, value)


@register.filter
def subject_label(value: str) -> str:
    return choice_label(Subject, value)


@register.filter
def invasive_label(value: str) -> str:
    return choice_label(Invasiveness, value)


@register.filter
def anesthesia_label(value: str | None) -> str:
    return choice_label(Anesthesia, value) if value else "—"


@register.filter
def status_label(value: str) -> str:
    return choice_label(VersionStatus, value)


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


@register.simple_tag
def cite_rule(ref: Any) -> str:
    """A rule's citation for a reader: the layer and version, then each document with its kind and article.

    ``ref`` is a ``RuleRef`` (or anything with ``pack_label`` and ``citations``); internal ids never show.
    """
    from django.utils.html import format_html, format_html_join
    from django.utils.safestring import mark_safe

    if ref is None:
        return ""
    lang = translation.get_language()
    english = (lang or "").startswith("en")
    citations = getattr(ref, "citations", ()) or ()
    docs = format_html_join(
        mark_safe("; "),
        '<span class="cite"><span class="badge kind">{}</span> {}{}</span>',
        (
            (
                c.kind_label(),
                format_html('<a href="{}" rel="noopener">{}</a>', c.url, _title(c, english))
                if c.url
                else _title(c, english),
                _rest(c, english),
            )
            for c in citations
        ),
    )
    if not citations:
        docs = format_html("{}", getattr(ref, "source", ""))
    label = getattr(ref, "pack_label", "")
    return format_html('<span class="citation"><span class="badge layer">{}</span> {}</span>', label, docs)


def _title(c: Any, english: bool) -> str:
    return (c.title_en or c.title) if english else f"《{c.title}》"


def _rest(c: Any, english: bool) -> str:
    from meiguard.rules.sources import english_article

    article = english_article(c.article) if english else c.article
    parts = (", " + article if english and article else article) + (
        f" ({c.number})" if english and c.number else ""
    )
    if not english and c.number:
        parts += f"({c.number})"
    return parts


@register.simple_tag
def cite_stored(rule: Any) -> str:
    """The citations of a stored ``Rule`` (or a diff snapshot with ``citations`` JSON), without the layer badge."""
    from types import SimpleNamespace

    from django.utils.html import format_html

    from meiguard.rules.sources import citation_from_json

    raw = getattr(rule, "citations", None) or []
    ref = SimpleNamespace(
        citations=tuple(citation_from_json(c) for c in raw), source=getattr(rule, "source", ""), pack_label=""
    )
    html = cite_rule(ref)
    return format_html("{}", html) if html else ""


@register.filter
def source_kind_label(value: str) -> str:
    from meiguard.rules.choices import SourceKind

    return choice_label(SourceKind, value)


@register.filter
def procedure_name(code: str | None) -> str:
    """The catalog name of a procedure code in the reader's language (the code itself if unknown)."""
    from meiguard.rules.labels import procedure_name as name

    return name(code)
