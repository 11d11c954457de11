from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

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


class ProcedureFilterForm(forms.Form):
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


class DiffForm(forms.Form):
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
