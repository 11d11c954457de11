"""Page forms of the workflow app. They only parse input; actions validate, decide and write.

Choices come from what the actor may see and do, so a foreign id is "not a valid choice" (a form error,
never a 500); an action's ``NotFoundField`` / ``ActionError`` is shown on the field it names.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from meiguard.authz.choices import AuthorizationKind, TechnologyKind
from meiguard.authz.forms import DATE, apply_error
from meiguard.core.access import Actor
from meiguard.core.forms import EdgeFormMixin
from meiguard.rules.choices import Subject

from . import queries
from .choices import EvidenceKind, Verdict
from .models import Application

__all__ = [
    "ActForm",
    "ApplicationForm",
    "BatchActForm",
    "CommitteeForm",
    "EvidenceForm",
    "WithdrawForm",
    "apply_error",
]


def _blank(choices: Any, label: Any = "—") -> list[tuple[Any, Any]]:
    return [("", label), *choices]


TEXT_FIELDS = (
    "grantor",
    "procedure_code",
    "procedure_category",
    "subject",
    "product_brand",
    "device_model",
    "technology_name",
    "technology_kind",
    "scope_note",
    "justification",
)


class ApplicationForm(EdgeFormMixin, forms.Form):
    institution = forms.TypedChoiceField(label=_("申请机构"), coerce=int, empty_value=None)
    practitioner = forms.TypedChoiceField(
        label=_("申请授权人员"),
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("技术授权可不填(授予本机构)"),
    )
    kind = forms.ChoiceField(label=_("授权类型"), choices=AuthorizationKind.choices)
    procedure_code = forms.CharField(
        label=_("项目编码"),
        max_length=64,
        required=False,
        help_text=_("资质授权:项目编码、项目类别、专业三者填一项"),
    )
    procedure_category = forms.CharField(label=_("项目类别"), max_length=32, required=False)
    subject = forms.ChoiceField(label=_("专业"), choices=_blank(Subject.choices), required=False)
    max_grade = forms.TypedChoiceField(
        label=_("最高手术级别"),
        coerce=int,
        empty_value=None,
        required=False,
        choices=_blank([(g, g) for g in range(1, 5)]),
    )
    product_brand = forms.CharField(label=_("产品品牌"), max_length=128, required=False)
    device_model = forms.CharField(label=_("设备型号"), max_length=128, required=False)
    technology_name = forms.CharField(label=_("技术名称"), max_length=128, required=False)
    technology_kind = forms.ChoiceField(
        label=_("技术授权类别"), choices=_blank(TechnologyKind.choices), required=False
    )
    grantor = forms.CharField(label=_("授权方(默认本机构)"), max_length=128, required=False)
    scope_note = forms.CharField(
        label=_("范围说明"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    valid_from = forms.DateField(label=_("申请生效日期"), widget=DATE)
    valid_until = forms.DateField(label=_("申请截止日期"), required=False, widget=DATE)
    supervisor = forms.TypedChoiceField(
        label=_("指定指导主诊医师(可选)"), coerce=int, empty_value=None, required=False
    )
    justification = forms.CharField(
        label=_("申请理由"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, actor: Actor, editing: Application | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        places = queries.institutions_for_apply(actor)
        if editing is not None:
            places = [editing.institution]
            self.fields["institution"].disabled = True
        self.fields["institution"].choices = _blank([(i.pk, i.name) for i in places])  # type: ignore[attr-defined]
        people = list(queries.practitioners_for_apply(actor, editing.institution_id if editing else None))
        if editing is not None and editing.practitioner is not None and editing.practitioner not in people:
            people.insert(0, editing.practitioner)
        self.fields["practitioner"].choices = _blank(  # type: ignore[attr-defined]
            [(p.pk, f"{p.name} · {p.get_profession_display()} · {p.main_institution.name}") for p in people],
            _("无(授予本机构)"),
        )
        self.fields["supervisor"].choices = _blank(  # type: ignore[attr-defined]
            [(p.pk, f"{p.name} · {p.main_institution.name}") for p in queries.supervisors_for(actor)], _("无")
        )
        # Suggestions (a <datalist>): the rule pack's procedures and categories, the registry's brands.
        self.procedure_options, self.category_options = queries.procedure_options(places)
        self.brand_options = queries.brand_options()
        for name, listing in (
            ("procedure_code", "wf-procedures"),
            ("procedure_category", "wf-categories"),
            ("product_brand", "wf-brands"),
            ("device_model", "wf-brands"),
        ):
            self.fields[name].widget.attrs["list"] = listing

    @classmethod
    def initial_for(cls, app: Application) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(app, name) for name in TEXT_FIELDS}
        data.update(
            institution=app.institution_id,
            practitioner=app.practitioner_id,
            kind=app.kind,
            max_grade=app.max_grade,
            valid_from=app.valid_from,
            valid_until=app.valid_until,
            supervisor=app.supervisor_id,
        )
        return data

    def data_for_action(self) -> dict[str, Any]:
        d = self.cleaned_data
        data: dict[str, Any] = {name: (d.get(name) or "") for name in TEXT_FIELDS}
        data.update(
            kind=d["kind"],
            practitioner_id=d.get("practitioner"),
            max_grade=d.get("max_grade"),
            valid_from=d["valid_from"],
            valid_until=d.get("valid_until"),
            supervisor_id=d.get("supervisor"),
        )
        return data


class EvidenceForm(EdgeFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("材料类型"), choices=EvidenceKind.choices)
    file = forms.FileField(
        label=_("文件(PDF、JPG、PNG)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )
    qualification = forms.TypedChoiceField(
        label=_("或关联登记的资质"), coerce=int, empty_value=None, required=False
    )
    note = forms.CharField(label=_("说明"), max_length=2000, required=False)

    def __init__(self, *args: Any, qualifications: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["qualification"].choices = _blank(  # type: ignore[attr-defined]
            [(q.pk, str(q)) for q in qualifications], _("不关联")
        )


class ActForm(EdgeFormMixin, forms.Form):
    step_id = forms.IntegerField(widget=forms.HiddenInput)
    verdict = forms.ChoiceField(label=_("审批意见"), choices=Verdict.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("意见说明"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("驳回或退回时必填"),
    )


BATCH_LIMIT = 50


class BatchActForm(EdgeFormMixin, forms.Form):
    """Several open steps, one verdict and one comment: each step is still its own audited act."""

    steps = forms.TypedMultipleChoiceField(label=_("选中的审批环节"), coerce=int)
    verdict = forms.ChoiceField(
        label=_("批量意见"),
        choices=[(Verdict.APPROVE, Verdict.APPROVE.label), (Verdict.RETURN, Verdict.RETURN.label)],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("意见说明(适用于全部选中)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("退回时必填"),
    )

    def __init__(self, *args: Any, step_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["steps"].choices = [(pk, pk) for pk in step_ids]  # type: ignore[attr-defined]

    def clean_steps(self) -> list[int]:
        steps = self.cleaned_data["steps"]
        if len(steps) > BATCH_LIMIT:
            raise forms.ValidationError(_("一次最多处理 %(n)s 个环节") % {"n": BATCH_LIMIT})
        return list(steps)


class WithdrawForm(EdgeFormMixin, forms.Form):
    reason = forms.CharField(label=_("撤回原因"), max_length=2000, required=False)


class CommitteeForm(EdgeFormMixin, forms.Form):
    name = forms.CharField(label=_("委员会名称"), max_length=128)
    quorum = forms.IntegerField(label=_("通过所需同意票数(N)"), min_value=1, max_value=50)
    members = forms.TypedMultipleChoiceField(
        label=_("委员"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args: Any, candidates: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [  # type: ignore[attr-defined]
            (u.pk, f"{u} ({u.username})") for u in candidates
        ]
