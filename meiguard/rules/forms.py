from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from meiguard.core.forms import EdgeFormMixin

from .choices import Invasiveness, Subject
from .models import RulePackVersion
from .queries import ProcedureFilter

GRADE_CHOICES = [
    ("", _("全部级别")),
    ("1", _("一级")),
    ("2", _("二级")),
    ("3", _("三级")),
    ("4", _("四级")),
    ("0", _("不分级")),
]


class ProcedureFilterForm(EdgeFormMixin, forms.Form):
    subject = forms.ChoiceField(
        label=_("科目"), required=False, choices=[("", _("全部科目")), *Subject.choices]
    )
    grade = forms.ChoiceField(label=_("级别"), required=False, choices=GRADE_CHOICES)
    invasive = forms.ChoiceField(
        label=_("类型"), required=False, choices=[("", _("全部类型")), *Invasiveness.choices]
    )
    q = forms.CharField(label=_("搜索"), required=False, max_length=100)

    def to_filter(self) -> ProcedureFilter:
        if not self.is_bound or not self.is_valid():
            return ProcedureFilter()
        data = self.cleaned_data
        return ProcedureFilter(
            subject=data["subject"] or None,
            grade=int(data["grade"]) if data["grade"] != "" else None,
            invasive=data["invasive"] or None,
            q=data["q"],
        )


class DiffForm(EdgeFormMixin, forms.Form):
    a = forms.TypedChoiceField(label=_("旧版本"), coerce=int)
    b = forms.TypedChoiceField(label=_("新版本"), coerce=int)

    def __init__(self, *args: Any, versions: list[RulePackVersion], **kwargs: Any):
        super().__init__(*args, **kwargs)
        choices = [(str(v.version), f"v{v.version} · {v.get_status_display()}") for v in versions]
        a_field = self.fields["a"]
        b_field = self.fields["b"]
        assert isinstance(a_field, forms.TypedChoiceField) and isinstance(b_field, forms.TypedChoiceField)
        a_field.choices = choices
        b_field.choices = choices


class PolicyForm(EdgeFormMixin, forms.Form):
    """The institution's policy settings (rules.institution.SETTINGS), one field each, plus the document name.

    Values are parsed by ``institution.parse_value`` (the same parser the API uses), so both give the same
    messages; ``changed_values()`` returns only what differs from the values in force.
    """

    document = forms.CharField(label=_("本机构规范文件名称"), required=False, max_length=120)
    effective_from = forms.DateField(
        label=_("计划生效日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, current: dict[str, Any], **kwargs: Any) -> None:
        from . import institution

        super().__init__(*args, **kwargs)
        self.current = current
        for s in institution.SETTINGS:
            value = current.get(s.key)
            label = f"{s.label}" + (f"({s.unit})" if s.unit else "")
            if s.kind == "boolean":
                self.fields[s.key] = forms.BooleanField(label=label, required=False, initial=bool(value))
            elif s.kind == "invasiveness":
                self.fields[s.key] = forms.MultipleChoiceField(
                    label=label,
                    required=False,
                    choices=Invasiveness.choices,
                    initial=list(value or []),
                    widget=forms.CheckboxSelectMultiple,
                )
            elif s.kind == "days":
                self.fields[s.key] = forms.CharField(
                    label=label,
                    required=False,
                    max_length=40,
                    initial=", ".join(str(d) for d in value or []),
                    help_text=_("用逗号分隔的天数,如 90, 60, 30, 7"),
                    widget=forms.TextInput(attrs={"inputmode": "numeric"}),
                )
            elif s.kind == "schedule":
                self.fields[s.key] = forms.CharField(
                    label=label,
                    required=False,
                    max_length=100,
                    initial=", ".join(value or []),
                    help_text=_("用逗号分隔,如 24h, 1w, 1m(小时 h、天 d、周 w、月 m)"),
                )
            else:
                self.fields[s.key] = forms.CharField(
                    label=label,
                    required=False,
                    max_length=12,
                    initial="" if value is None else str(value),
                    widget=forms.TextInput(attrs={"inputmode": "decimal"}),
                )
            self.fields[s.key].setting = s  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        from meiguard.core.errors import ActionError

        from . import institution

        data = super().clean() or {}
        parsed: dict[str, Any] = {}
        for s in institution.SETTINGS:
            raw = data.get(s.key)
            if s.kind != "boolean" and raw in (None, "") and s.kind != "invasiveness":
                continue  # left empty: unchanged
            try:
                parsed[s.key] = institution.parse_value(s, raw if raw is not None else "")
            except ActionError as exc:
                self.add_error(s.key, str(exc.message))
        self.parsed = parsed
        return data

    def changed_values(self) -> dict[str, Any]:
        out = {}
        for key, value in self.parsed.items():
            before = self.current.get(key)
            if before is None and value in (False, []):
                continue
            if _same(before, value):
                continue
            out[key] = value
        return out


def _same(a: Any, b: Any) -> bool:
    from decimal import Decimal, InvalidOperation

    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return sorted(a or []) == sorted(b or [])
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except (InvalidOperation, ValueError):
        return a == b


class PolicyPublishForm(EdgeFormMixin, forms.Form):
    version = forms.IntegerField(min_value=1, max_value=100000)
    effective_from = forms.DateField(label=_("生效日期"), widget=forms.DateInput(attrs={"type": "date"}))
