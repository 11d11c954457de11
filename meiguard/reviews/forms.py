"""Page forms of the reviews app. They only parse input; actions validate and write.

Choices come from what the actor may see (a foreign id is "not a valid choice", never a 500); an action's
``NotFoundField`` / ``ActionError`` is shown on the field it names (``authz.forms.apply_error``).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meiguard.authz.choices import AuthorizationStatus
from meiguard.authz.forms import apply_error
from meiguard.authz.models import Authorization
from meiguard.core.access import Actor
from meiguard.core.forms import EdgeFormMixin
from meiguard.registry.models import Practitioner

from . import queries
from .choices import CampaignKind, FindingAction, Severity
from .models import Campaign, ChecklistItem, Finding
from .periods import parse, quarter_of

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

__all__ = [
    "ActionForm",
    "CampaignForm",
    "CloseCampaignForm",
    "CloseFindingForm",
    "FindingForm",
    "ItemOkForm",
    "apply_error",
]


def _choices(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


def _blank(choices: Any, label: Any = "—") -> list[tuple[Any, Any]]:
    return [("", label), *choices]


class CampaignForm(EdgeFormMixin, forms.Form):
    institution = forms.TypedChoiceField(label=_("机构"), coerce=int)
    kind = forms.ChoiceField(label=_("审查类型"), choices=CampaignKind.choices)
    period = forms.CharField(
        label=_("审查期间"),
        max_length=7,
        help_text=_("季度,格式 2026-Q4"),
        widget=forms.TextInput(attrs={"pattern": r"\d{4}-Q[1-4]", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        runnable = queries.runnable(actor)
        _choices(self, "institution").choices = [(i.pk, i.name) for i, _kinds in runnable]
        kinds = {k for _i, ks in runnable for k in ks}
        kind_choices = [(v, label) for v, label in CampaignKind.choices if v in kinds]
        _choices(self, "kind").choices = kind_choices
        if not self.is_bound:
            self.initial.setdefault("period", quarter_of(timezone.localdate()).label)
            if len(kind_choices) == 1:
                self.initial.setdefault("kind", kind_choices[0][0])

    def clean_period(self) -> str:
        quarter = parse(self.cleaned_data["period"])
        if quarter is None:
            raise forms.ValidationError(_("审查期间应为季度,例如 2026-Q4"))
        return quarter.label


class ItemOkForm(EdgeFormMixin, forms.Form):
    note = forms.CharField(label=_("检查说明"), required=False, max_length=4000)


class FindingForm(EdgeFormMixin, forms.Form):
    item = forms.TypedChoiceField(label=_("检查项"), coerce=int, required=False, empty_value=None)
    practitioner = forms.TypedChoiceField(label=_("执业人员"), coerce=int, required=False, empty_value=None)
    authorization = forms.TypedChoiceField(label=_("授权"), coerce=int, required=False, empty_value=None)
    severity = forms.ChoiceField(label=_("严重程度"), choices=Severity.choices, initial=Severity.MEDIUM)
    description = forms.CharField(
        label=_("问题描述"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    action = forms.ChoiceField(
        label=_("处理措施"),
        choices=_blank(FindingAction.choices, _("暂不处理")),
        required=False,
        widget=forms.RadioSelect,
        help_text=_("暂停授权会立即暂停所选授权,之后的授权核验将被拒绝。"),
    )
    due_date = forms.DateField(
        label=_("整改期限"), required=False, widget=DATE, help_text=_("再培训不填时默认 30 天")
    )

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inst = campaign.institution
        _choices(self, "item").choices = _blank(
            [
                (i.pk, str(i)[:80])
                for i in ChecklistItem.objects.filter(campaign=campaign).order_by("category", "month", "key")
            ]
        )
        people = (
            Practitioner.objects.filter(Q(main_institution_id=inst.pk) | Q(sites__institution_id=inst.pk))
            .distinct()
            .order_by("name", "pk")
        )
        _choices(self, "practitioner").choices = _blank([(p.pk, p.name) for p in people])
        auths = (
            Authorization.objects.filter(institution_id=inst.pk)
            .exclude(status=AuthorizationStatus.DRAFT)
            .select_related("practitioner")
            .order_by("-status", "pk")
        )
        _choices(self, "authorization").choices = _blank(
            [(a.pk, f"{a} · {a.get_status_display()}") for a in auths]
        )

    def action_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "item_id": d["item"],
            "practitioner_id": d["practitioner"],
            "authorization_id": d["authorization"],
            "severity": d["severity"],
            "description": d["description"],
            "action": d["action"] or None,
            "due_date": d["due_date"],
        }


class ActionForm(EdgeFormMixin, forms.Form):
    action = forms.ChoiceField(label=_("处理措施"), choices=FindingAction.choices)
    due_date = forms.DateField(label=_("整改期限"), required=False, widget=DATE)

    def __init__(self, *args: Any, finding: Finding | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if finding is not None:
            _choices(self, "action").choices = finding.allowed_actions()
            self.auto_id = f"f{finding.pk}-%s"


class CloseFindingForm(EdgeFormMixin, forms.Form):
    note = forms.CharField(label=_("关闭说明"), max_length=4000, help_text=_("整改情况与核实方式"))

    def __init__(self, *args: Any, finding: Finding | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if finding is not None:
            self.auto_id = f"c{finding.pk}-%s"


class CloseCampaignForm(EdgeFormMixin, forms.Form):
    summary = forms.CharField(
        label=_("审查结论"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    note = forms.CharField(
        label=_("结束说明"),
        required=False,
        max_length=4000,
        help_text=_("仍有未关闭的问题时必填,说明后续如何跟进"),
    )
