"""Audit entries as people read them: the action's name, field labels, names instead of ids, local times.

The stored entry keeps what the hash covers (ids, codes, ISO times); this module only renders it, in the
reader's language. Field labels and choice labels come from the model named by ``object_type``; foreign-key
values become the related row's name; lists become joined labels; ISO timestamps become local ``Y-m-d H:i``;
procedure codes become catalog names (the code stays in a ``<code>`` chip beside the name).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .codes import ACTION_CODES

_ISO_DT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_PROCEDURE_FIELDS = {"procedure", "procedure_code", "procedure_codes", "procedures", "accepted_scopes"}
EMPTY = "—"


@dataclass(frozen=True, slots=True)
class Change:
    field: str  # the stored key (shown only as a code chip / title)
    label: str
    old: str
    new: str


def action_label(code: str) -> str:
    label = ACTION_CODES.get(code)
    return str(label) if label else code


def _model(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        f = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return f if isinstance(f, models.Field) else None


def field_label(model: type[models.Model] | None, name: str) -> str:
    f = _field(model, name)
    if f is not None and f.verbose_name and str(f.verbose_name) != name.replace("_", " "):
        return str(f.verbose_name)
    return str(EXTRA_LABELS.get(name, name))


# Keys that are not model fields (``audit_extra`` values and hand-written ``changes``).
EXTRA_LABELS: dict[str, Any] = {
    "status": _("状态"),
    "user": _("用户"),
    "organization": _("组织"),
    "procedure_code": _("项目"),
    "procedures": _("项目"),
    "accepted_scopes": _("核准范围"),
    "roles": _("角色"),
    "role": _("角色"),
    "qualifications": _("资质"),
    "sites": _("执业地点"),
    "evidence": _("申请材料"),
    "verdict": _("意见"),
    "comment": _("备注"),
    "round": _("轮次"),
    "stage": _("审批环节"),
    # a trace-coded unit used in a case: named in the usage's own entry (docs/inventory.md)
    "trace_code": _("药品追溯码"),
    "stock_movement": _("库存变动"),
    # the idle lock (core/idle.py)
    "why": _("原因"),
    "idle_seconds": _("空闲时限(秒)"),
    "shared_device": _("共用设备"),
    "problem": _("失败原因"),
}
# Hand-written keys that hold another row's id: shown as that row's name, like a foreign key.
EXTRA_RELATIONS: dict[str, str] = {"stock_movement": "inventory.stockmovement"}


class Renderer:
    """Renders many entries with one lookup cache (a history page shows up to 200 entries)."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, Any], str] = {}

    def _related_name(self, model: type[models.Model], pk: Any) -> str:
        key = (model._meta.label_lower, pk)
        if key not in self._names:
            obj = model._default_manager.filter(pk=pk).first()
            self._names[key] = _name_of(obj) if obj is not None else f"#{pk}"
        return self._names[key]

    def value(self, model: type[models.Model] | None, name: str, value: Any) -> str:
        if value is None or value == "" or value == [] or value == {}:
            return EMPTY
        if isinstance(value, list | tuple):
            sep = gettext("、")
            return sep.join(self.value(model, name, v) for v in value)
        if isinstance(value, dict):
            return gettext(";").join(f"{self.value(model, k, v)}" for k, v in value.items())
        if isinstance(value, bool):
            return gettext("是") if value else gettext("否")
        f = _field(model, name)
        if f is None and name in EXTRA_RELATIONS and isinstance(value, int):
            related = _model(EXTRA_RELATIONS[name])
            if related is not None:
                return self._related_name(related, value)
        if f is not None and f.is_relation and f.related_model is not None and not f.many_to_many:
            return self._related_name(f.related_model, value)  # type: ignore[arg-type]
        if f is not None and f.many_to_many and f.related_model is not None:
            return self._related_name(f.related_model, value)  # type: ignore[arg-type]
        if f is not None and f.choices:
            choices = {str(k): v for k, v in f.flatchoices}
            if str(value) in choices:
                return str(choices[str(value)])
        if isinstance(value, str):
            if _ISO_DT.match(value):
                parsed = parse_datetime(value)
                if parsed is not None:
                    if timezone.is_naive(parsed):
                        parsed = timezone.make_aware(parsed, dt.UTC)
                    return formats.date_format(timezone.localtime(parsed), "Y-m-d H:i")
            if name in _PROCEDURE_FIELDS or name.startswith("procedure"):
                from meiguard.rules.labels import procedure_name

                return procedure_name(value)
        return str(value)

    def changes(self, object_type: str, changes: dict[str, Any] | None) -> list[Change]:
        model = _model(object_type)
        out = []
        for key, pair in (changes or {}).items():
            old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
            out.append(
                Change(
                    field=key,
                    label=field_label(model, key),
                    old=self.value(model, key, old),
                    new=self.value(model, key, new),
                )
            )
        return out


def _name_of(obj: models.Model) -> str:
    for attr in ("display_name", "name"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    return str(obj)


def describe(entries: list[Any]) -> list[Any]:
    """Attach ``action_label`` and ``readable_changes`` to each entry (for the history templates)."""
    r = Renderer()
    user_model = apps.get_model("core", "User")
    for e in entries:
        e.actor_name = r._related_name(user_model, e.actor_id) if e.actor_id else e.actor_label
        e.action_label = action_label(e.action)
        e.readable_changes = r.changes(e.object_type, e.changes)
    return entries
