"""Page forms of the authz app. They only parse input; actions validate, decide and write.

Choices are built from what the actor may see, so a foreign id is "not a valid choice" (a form error,
never a 500); an action's ``NotFoundField`` / ``ActionError`` is shown on the field it names.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.forms import EdgeFormMixin
from meiguard.registry.choices import DoseUnit
from meiguard.registry.models import Institution
from meiguard.rules.choices import Anesthesia, Profession, Subject
from meiguard.rules.services import resolve

from . import actions, queries
from .choices import AuthorizationKind, TechnologyKind
from .facts import DecisionRequest, ProductUse

LOT_ROWS = 3
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "60"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


def _blank(choices: Any, label: Any = "—") -> list[tuple[Any, Any]]:
    return [("", label), *choices]


def _field_for(form: forms.Form, name: str) -> str | None:
    """The form field an action's error names (``practitioner_id`` → ``practitioner``)."""
    match = re.fullmatch(r"products\[(\d+)\]\.lot_id", name)
    if match:
        name = f"lot_{match.group(1)}"
    elif name.startswith("device_ids"):
        name = "devices"
    elif name.endswith("_id"):
        name = name[:-3]
    elif name == "procedure_code" and "procedure" in form.fields:
        name = "procedure"
    return name if name in form.fields else None


def apply_error(form: forms.Form, exc: Exception) -> None:
    """Show an action's error on the form: on the field it names where the form has it, else on top."""
    if isinstance(exc, FieldErrors):
        for name, messages in exc.errors.items():
            for message in messages:
                form.add_error(_field_for(form, name), str(message))
    elif isinstance(exc, NotFoundField):
        form.add_error(_field_for(form, exc.field), actions.error_message(exc))
    elif isinstance(exc, ActionError):
        form.add_error(_field_for(form, exc.field or ""), str(exc.message))
    else:  # pragma: no cover - callers pass only the errors above
        raise exc


# ---- 授权核验 ------------------------------------------------------------------------------------


class CheckForm(EdgeFormMixin, forms.Form):
    """One point-of-care question: may this practitioner do this procedure here, with these lots/devices?"""

    institution = forms.TypedChoiceField(label=_("机构"), coerce=int, empty_value=None)
    practitioner = forms.TypedChoiceField(label=_("执业人员"), coerce=int, empty_value=None)
    procedure = forms.ChoiceField(label=_("项目"))
    supervisor = forms.TypedChoiceField(
        label=_("在场指导的主诊医师(可选)"), coerce=int, empty_value=None, required=False
    )
    anesthetist = forms.TypedChoiceField(
        label=_("麻醉医师(可选)"), coerce=int, empty_value=None, required=False
    )
    anesthesia = forms.ChoiceField(
        label=_("麻醉方式(可选)"), choices=[("", _("按项目目录")), *Anesthesia.choices], required=False
    )
    devices = forms.TypedMultipleChoiceField(
        label=_("设备(可选)"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    at = forms.DateTimeField(
        label=_("核验时点(默认现在)"), required=False, widget=DATETIME, input_formats=DATETIME_FORMATS
    )

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.pack_error = ""
        today = timezone.localdate()
        visible = list(queries.institutions(actor))
        self.fields["institution"].choices = _blank(  # type: ignore[attr-defined]
            [(i.pk, i.name) for i in visible], _("请选择机构")
        )
        raw = self.data.get("institution") if self.is_bound else self.initial.get("institution")
        if not self.is_bound and raw is None and len(visible) == 1:  # the only institution: chosen already
            raw = visible[0].pk
            self.initial["institution"] = raw
        chosen = _int(raw)
        self.chosen: Institution | None = next((i for i in visible if i.pk == chosen), None)
        for row in range(LOT_ROWS):
            self.fields[f"lot_{row}"] = forms.TypedChoiceField(
                label=_("批次 %(n)s") % {"n": row + 1}, coerce=int, empty_value=None, required=False
            )
            self.fields[f"dose_value_{row}"] = forms.DecimalField(
                label=_("剂量"),
                required=False,
                min_value=Decimal(0),
                max_value=Decimal(100000),
                max_digits=10,
                decimal_places=3,
            )
            self.fields[f"dose_unit_{row}"] = forms.ChoiceField(
                label=_("单位"), choices=_blank(DoseUnit.choices), required=False
            )
            self.fields[f"minutes_{row}"] = forms.IntegerField(
                label=_("单部位分钟数"), required=False, min_value=0, max_value=600
            )
        inst = self.chosen
        if inst is None:
            for name in ("practitioner", "supervisor", "anesthetist"):
                self.fields[name].choices = _blank([], _("请先选择机构"))  # type: ignore[attr-defined]
            self.fields["procedure"].choices = _blank([], _("请先选择机构"))  # type: ignore[attr-defined]
            return
        people = list(queries.practitioners_at(actor, inst.pk, today))
        self.fields["practitioner"].choices = _blank(  # type: ignore[attr-defined]
            [(p.pk, f"{p.name} · {p.get_profession_display()} · {p.get_title_display()}") for p in people],
            _("请选择人员"),
        )
        if not self.is_bound and not self.initial.get("practitioner") and actor.user_id:
            # A practitioner checking at the chair asks about themself first.
            me = next((p.pk for p in people if p.user_id == actor.user_id), None)
            if me is not None:
                self.initial["practitioner"] = me
        self.fields["supervisor"].choices = _blank(  # type: ignore[attr-defined]
            [
                (p.pk, f"{p.name} · {p.get_title_display()}")
                for p in people
                if p.profession == Profession.DOCTOR
            ],
            _("无"),
        )
        # Physicians whose practice scope is 麻醉科 (the engine checks the rest).
        self.fields["anesthetist"].choices = _blank(  # type: ignore[attr-defined]
            [
                (p.pk, f"{p.name} · {p.get_title_display()}")
                for p in people
                if p.profession in (Profession.DOCTOR, Profession.ANESTHETIST)
                and p.practice_scope == "麻醉科"
            ],
            _("无"),
        )
        try:
            pack = resolve(inst.province, today, inst.pk)
        except ActionError as exc:
            self.pack_error = str(exc.message)
            self.fields["procedure"].choices = _blank([])  # type: ignore[attr-defined]
        else:
            self.fields["procedure"].choices = _blank(  # type: ignore[attr-defined]
                [
                    (label, [(p.code, _procedure_label(p)) for p in procs])
                    for label, procs in queries.procedure_groups(pack, inst.subjects)
                ],
                _("请选择项目"),
            )
        lot_rows = list(queries.lots_at(actor, inst.pk))
        # A dose without a unit is in the product's own dose unit (U for toxin, ml for fillers).
        self.lot_units = {lot.pk: lot.product.dose_unit for lot in lot_rows}
        lots = [
            (lot.pk, f"{lot} · {gettext('有效期至')} {lot.expiry_date:%Y-%m-%d} · {lot.get_status_display()}")
            for lot in lot_rows
        ]
        for row in range(LOT_ROWS):
            self.fields[f"lot_{row}"].choices = _blank(lots, _("不使用"))  # type: ignore[attr-defined]
        self.fields["devices"].choices = [  # type: ignore[attr-defined]
            (d.pk, f"{d} · {d.get_status_display()}") for d in queries.devices_at(actor, inst.pk)
        ]

    def lot_rows(self) -> list[dict[str, forms.BoundField]]:
        return [
            {
                "lot": self[f"lot_{row}"],
                "dose_value": self[f"dose_value_{row}"],
                "dose_unit": self[f"dose_unit_{row}"],
                "minutes": self[f"minutes_{row}"],
            }
            for row in range(LOT_ROWS)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for row in range(LOT_ROWS):
            lot = data.get(f"lot_{row}")
            value = data.get(f"dose_value_{row}")
            unit = data.get(f"dose_unit_{row}")
            minutes = data.get(f"minutes_{row}")
            if lot is None and (value is not None or minutes is not None):
                self.add_error(f"lot_{row}", gettext("填写剂量或分钟数时须选择批次"))
            if value is not None and not unit and lot is not None and lot in getattr(self, "lot_units", {}):
                unit = data[f"dose_unit_{row}"] = self.lot_units[lot]
            if value is not None and not unit:
                self.add_error(f"dose_unit_{row}", gettext("请选择剂量单位"))
            if unit and value is None:
                self.add_error(f"dose_value_{row}", gettext("选择了单位时须填写剂量"))
        return data

    def products(self) -> tuple[ProductUse, ...]:
        data = self.cleaned_data
        out = []
        for row in range(LOT_ROWS):
            lot = data.get(f"lot_{row}")
            if lot is None:
                continue
            value = data.get(f"dose_value_{row}")
            out.append(
                ProductUse(
                    lot_id=lot,
                    dose_value=value,
                    dose_unit=(data.get(f"dose_unit_{row}") or None) if value is not None else None,
                    minutes=data.get(f"minutes_{row}"),
                )
            )
        return tuple(out)

    def to_request(self) -> DecisionRequest:
        data = self.cleaned_data
        return actions.as_request(
            institution_id=data["institution"],
            practitioner_id=data["practitioner"],
            procedure_code=data["procedure"],
            at=data.get("at"),
            products=self.products(),
            device_ids=tuple(data.get("devices") or ()),
            supervisor_id=data.get("supervisor"),
            anesthetist_id=data.get("anesthetist"),
            anesthesia=data.get("anesthesia") or None,
        )


def _procedure_label(p: Any) -> str:
    """The procedure's name and grade; the code stays in the option's value (and the verdict's code chip)."""
    grade = gettext("%(g)s级") % {"g": p.grade} if p.grade else gettext("未定级")
    return f"{p.name} · {grade}"


# ---- 授权档案 ------------------------------------------------------------------------------------


class AuthorizationForm(EdgeFormMixin, forms.Form):
    institution = forms.TypedChoiceField(label=_("授权机构"), coerce=int, empty_value=None)
    kind = forms.ChoiceField(label=_("授权类型"), choices=AuthorizationKind.choices)
    practitioner = forms.TypedChoiceField(label=_("被授权人"), coerce=int, empty_value=None, required=False)
    grantee_institution = forms.TypedChoiceField(
        label=_("被授权机构(技术授权)"), coerce=int, empty_value=None, required=False
    )
    grantor = forms.CharField(label=_("授权方(默认本机构)"), max_length=128, required=False)
    procedure_code = forms.CharField(
        label=_("项目编码"),
        max_length=64,
        required=False,
        help_text=_("项目编码、项目类别、专业三者填一项"),
    )
    procedure_category = forms.CharField(label=_("项目类别"), max_length=32, required=False)
    subject = forms.ChoiceField(label=_("专业"), choices=_blank(Subject.choices), required=False)
    product_brand = forms.CharField(label=_("产品品牌"), max_length=128, required=False)
    device_model = forms.CharField(label=_("设备型号"), max_length=128, required=False)
    technology_name = forms.CharField(label=_("技术名称"), max_length=128, required=False)
    technology_kind = forms.ChoiceField(
        label=_("技术授权类别"), choices=_blank(TechnologyKind.choices), required=False
    )
    scope_note = forms.CharField(
        label=_("范围说明"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    valid_from = forms.DateField(label=_("生效日期"), widget=DATE)
    valid_until = forms.DateField(label=_("截止日期"), required=False, widget=DATE)
    max_grade = forms.TypedChoiceField(
        label=_("最高手术级别"),
        coerce=int,
        empty_value=None,
        required=False,
        choices=_blank([(g, g) for g in range(1, 5)]),
    )
    supervisor = forms.TypedChoiceField(
        label=_("指定指导主诊医师"), coerce=int, empty_value=None, required=False
    )
    conditions_note = forms.CharField(
        label=_("附加条件"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    activate = forms.BooleanField(label=_("保存后立即生效"), required=False)

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["institution"].choices = _blank(  # type: ignore[attr-defined]
            [(i.pk, i.name) for i in queries.writable_institutions(actor)]
        )
        people = list(queries.visible_practitioners(actor))
        self.fields["practitioner"].choices = _blank(  # type: ignore[attr-defined]
            [(p.pk, f"{p.name} · {p.main_institution.name}") for p in people]
        )
        self.fields["supervisor"].choices = _blank(  # type: ignore[attr-defined]
            [
                (p.pk, f"{p.name} · {p.main_institution.name}")
                for p in people
                if p.profession == Profession.DOCTOR
            ]
        )
        self.fields["grantee_institution"].choices = _blank(  # type: ignore[attr-defined]
            [(i.pk, i.name) for i in queries.institutions(actor)]
        )

    def action_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        data = {
            "kind": d["kind"],
            "practitioner_id": d.get("practitioner"),
            "grantee_institution_id": d.get("grantee_institution"),
            "supervisor_id": d.get("supervisor"),
            "max_grade": d.get("max_grade"),
            "valid_from": d["valid_from"],
            "valid_until": d.get("valid_until"),
        }
        for name in (
            "grantor",
            "procedure_code",
            "procedure_category",
            "subject",
            "product_brand",
            "device_model",
            "technology_name",
            "technology_kind",
            "scope_note",
            "conditions_note",
        ):
            data[name] = (d.get(name) or "").strip()
        return {"institution_id": d["institution"], "data": data, "activate": bool(d.get("activate"))}


TRANSITIONS = {
    "activate": pgettext_lazy("授权操作", "生效"),
    "suspend": pgettext_lazy("授权操作", "暂停"),
    "reinstate": pgettext_lazy("授权操作", "恢复"),
    "revoke": pgettext_lazy("授权操作", "撤销"),
}


class TransitionForm(EdgeFormMixin, forms.Form):
    action = forms.ChoiceField(label=_("操作"), choices=list(TRANSITIONS.items()))
    reason = forms.CharField(
        label=_("原因"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("暂停、恢复、撤销须填写原因"),
    )


class RenewForm(EdgeFormMixin, forms.Form):
    valid_until = forms.DateField(label=_("续期截止日期"), required=False, widget=DATE)
    reason = forms.CharField(label=_("说明"), max_length=2000, required=False)


def parse_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()) if value and value.strip() else None
    except ValueError:
        return None
