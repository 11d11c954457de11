"""Page forms of the bulk app: they only parse input; actions validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.forms import EdgeFormMixin

from . import queries
from .choices import ImportKind


class UploadForm(EdgeFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("导入内容"), choices=ImportKind.choices)
    file = forms.FileField(
        label=_("Excel 文件(.xlsx)"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )


class ExportForm(EdgeFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("导出内容"), choices=ImportKind.choices, initial=ImportKind.FULL)
    institution = forms.TypedChoiceField(label=_("机构"), coerce=int, empty_value=None, required=False)

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["institution"].choices = [  # type: ignore[attr-defined]
            ("", _("全部可见机构")),
            *[(i.pk, i.name) for i in queries.exportable_institutions(actor)],
        ]
