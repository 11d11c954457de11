"""Notification texts rendered in the reader's language when they are shown, not when they are sent.

A notification stores a ``message_code`` and JSON ``params``. Each app registers its codes in its own
``notice_texts.py`` (imported by ``NotifyConfig.ready``)::

    register("workflow.step_open", title=gettext_noop("待审批:%(who)s …"), body=gettext_noop("…"))

The texts are Chinese msgids (marked with ``gettext_noop`` so they stay in the app's catalogue) and are
translated with ``gettext`` in the active language at display time: the inbox in the reader's language, an
e-mail in the recipient's. Parameter values are plain JSON (names, numbers, dates: data, shown as they are)
or one of these tagged values, built with the helpers below so callers never spell the JSON by hand:

- ``label(x)``        a translatable label (a choice label or ``gettext_lazy`` string): ``{"t": msgid}``
- ``procedure(code)`` a procedure named via ``rules.labels.procedure_name``:  ``{"proc": code}``
- ``fragment(code, **params)`` another registered text, formatted:               ``{"m": code, "p": {...}}``
- ``each_language(func)`` a composite label built by code (e.g. "#12 资质授权 · 双眼皮"), computed once per
                      supported language at send time: ``{"i18n": {"zh-hans": …, "en": …}}``
- a list of values: rendered one per line.

A message registered without a body takes its body from the ``lines`` parameter (a list of fragments), for
bodies whose lines depend on the case.

Editing a text keeps old rows readable in the new wording (the row holds the code, not the text). A code
nobody registers any more, or params that no longer fit, fall back to the title/body stored at send time
(rendered in the site language, also kept for rows older than message codes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Text:
    title: str
    body: str = ""


_TEXTS: dict[str, Text] = {}


def register(code: str, *, title: str, body: str = "") -> None:
    """Declare a message code (or a fragment used inside other messages, title only)."""
    known = _TEXTS.get(code)
    if known is not None and known != Text(title, body):
        raise ValueError(f"notification message {code!r} registered twice with different texts")
    _TEXTS[code] = Text(title, body)


def registered(code: str) -> bool:
    return code in _TEXTS


def label(value: Any) -> dict[str, str]:
    """A translatable label, stored as its (Chinese) msgid: the source language is the msgid language."""
    with translation.override(settings.LANGUAGE_CODE):
        return {"t": str(value)}


def procedure(code: str) -> dict[str, str]:
    return {"proc": code}


def each_language(func: Callable[[], Any]) -> dict[str, dict[str, str]]:
    texts = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts[code] = str(func())
    return {"i18n": texts}


def fragment(code: str, **params: Any) -> dict[str, Any]:
    if code not in _TEXTS:
        raise KeyError(f"unknown notification text {code!r}")
    return {"m": code, "p": params}


def _value(value: Any) -> Any:
    if isinstance(value, list):
        return "\n".join(str(_value(v)) for v in value)
    if isinstance(value, dict):
        if "t" in value:
            return gettext(value["t"]) if value["t"] else ""
        if "proc" in value:
            from meiguard.rules.labels import procedure_name

            return procedure_name(value["proc"])
        if "i18n" in value:
            texts = value["i18n"]
            lang = translation.get_language() or settings.LANGUAGE_CODE
            found = texts.get(lang) or texts.get(lang.split("-")[0])
            return found if found is not None else texts.get(settings.LANGUAGE_CODE, "")
        if "m" in value:
            return _format(_TEXTS[value["m"]].title, value.get("p") or {})
        raise ValueError(f"unknown parameter value {value!r}")
    return "—" if value is None else value


def _format(msgid: str, params: dict[str, Any]) -> str:
    text = gettext(msgid)
    if not params:
        return text
    return text % {k: _value(v) for k, v in params.items()}


def render(code: str, params: dict[str, Any] | None) -> Text:
    """Title and body of ``code`` in the active language; raises KeyError/ValueError/TypeError if unusable."""
    text = _TEXTS[code]
    params = params or {}
    if text.body:
        body = _format(text.body, params)
    else:
        body = str(_value(params["lines"])) if "lines" in params else ""
    return Text(_format(text.title, params), body)


def render_or(code: str, params: dict[str, Any] | None, fallback: Text) -> Text:
    if not code:
        return fallback
    try:
        return render(code, params)
    except (KeyError, ValueError, TypeError):
        log.warning("notification %s cannot be rendered; showing the stored text", code, exc_info=True)
        return fallback


def render_in(language: str, code: str, params: dict[str, Any] | None) -> Text:
    with translation.override(language):
        return render(code, params)
