"""Page forms. They only parse input; the actions validate and write (errors come back as form errors)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.choices import INSTITUTION_WRITERS, REGISTRY_WRITERS, OrganizationKind
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.forms import EdgeFormMixin
from meiguard.core.models import Organization
from meiguard.rules.choices import (
    PRACTICE_SCOPE_LABELS,
    PRACTICE_SCOPES,
    PROVINCE_LABELS,
    PROVINCES,
    HospitalLevel,
    InstitutionType,
    PracticeCategory,
    Profession,
    Subject,
    Title,
)

from .choices import (
    CreditClass,
    DoseUnit,
    LicenceKind,
    PractitionerStatus,
    ProductCategory,
    ProductKind,
    QualificationKind,
    RiskClass,
)
from .models import Institution, Supplier

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _blank(choices: Any) -> list[tuple[str, Any]]:
    return [("", "—"), *choices]


def apply_action_error(form: forms.Form, exc: ActionError) -> None:
    """Show an action's error on the form: per field where the form has it, else at the top."""
    if isinstance(exc, FieldErrors):
        items = exc.errors.items()
    else:
        items = [(exc.field or "__all__", [str(exc.message)])]  # type: ignore[assignment]
    for field, messages in items:
        name = field
        if name not in form.fields and name.endswith("_id") and name[:-3] in form.fields:
            name = name[:-3]
        for message in messages:
            form.add_error(name if name in form.fields else None, str(message))


class InstitutionForm(EdgeFormMixin, forms.Form):
    organization = forms.ModelChoiceField(
        label=_("所属组织"),
        queryset=Organization.objects.none(),
        required=False,
        help_text=_("平台管理员可留空以同时新建组织"),
    )
    name = forms.CharField(label=_("机构名称"), max_length=128)
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=32)
    licence_kind = forms.ChoiceField(label=_("执业证照类型"), choices=LicenceKind.choices)
    licence_no = forms.CharField(label=_("执业许可证登记号/备案凭证编号"), max_length=64)
    institution_type = forms.ChoiceField(label=_("机构类型"), choices=InstitutionType.choices)
    hospital_level = forms.ChoiceField(
        label=_("医院等级"), choices=_blank(HospitalLevel.choices), required=False
    )
    has_anesthesiology = forms.BooleanField(label=_("设麻醉科"), required=False)
    subjects = forms.MultipleChoiceField(
        label=_("医疗美容诊疗科目"), choices=Subject.choices, widget=forms.CheckboxSelectMultiple
    )
    licence_valid_from = forms.DateField(label=_("许可证有效期自"), widget=DATE)
    licence_valid_until = forms.DateField(label=_("许可证有效期至"), widget=DATE)
    verification_cycle_years = forms.TypedChoiceField(
        label=_("校验周期(年)"), choices=[(1, _("1年")), (3, _("3年"))], coerce=int
    )
    last_verified_on = forms.DateField(
        label=_("上次校验日期"),
        required=False,
        widget=DATE,
        help_text=_("许可证生效已超过一个校验周期的机构必填;下次校验到期日按校验周期自动计算"),
    )
    next_verification_due = forms.DateField(
        label=_("下次校验到期日"),
        required=False,
        widget=DATE,
        help_text=_("一般留空自动计算;暂缓校验等特殊情况可直接填写"),
    )
    province = forms.ChoiceField(label=_("省份"), choices=[(p, PROVINCE_LABELS[p]) for p in PROVINCES])
    city = forms.CharField(label=_("城市"), max_length=32)

    def __init__(self, *args: Any, actor: Actor, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if creating:
            orgs = Organization.objects.filter(kind=OrganizationKind.INSTITUTION, institution__isnull=True)
            if not actor.is_unrestricted:
                orgs = orgs.filter(pk__in=actor.org_ids_with_roles(INSTITUTION_WRITERS))
            self.fields["organization"].queryset = orgs  # type: ignore[attr-defined]
        else:
            del self.fields["organization"]

    def action_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        org = data.pop("organization", None)
        if "organization" in self.fields:
            data["organization_id"] = org.pk if org else None
        return data


class PractitionerForm(EdgeFormMixin, forms.Form):
    main_institution = forms.ModelChoiceField(label=_("主执业机构"), queryset=Institution.objects.none())
    name = forms.CharField(label=_("姓名"), max_length=64)
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("修改时留空表示不变;身份证号加密保存,只显示脱敏值"),
    )
    profession = forms.ChoiceField(label=_("职业"), choices=Profession.choices)
    licence_no = forms.CharField(label=_("执业证书编码"), max_length=32, required=False)
    practice_category = forms.ChoiceField(
        label=_("执业类别"), choices=_blank(PracticeCategory.choices), required=False
    )
    practice_scope = forms.ChoiceField(
        label=_("执业范围"),
        choices=_blank([(s, PRACTICE_SCOPE_LABELS[s]) for s in PRACTICE_SCOPES]),
        required=False,
    )
    title = forms.ChoiceField(label=_("职称"), choices=Title.choices)
    practising_since = forms.DateField(label=_("开始执业日期"), required=False, widget=DATE)

    def __init__(self, *args: Any, actor: Actor, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        if creating:
            qs = Institution.objects.visible_to(actor)
            if not actor.is_unrestricted:
                qs = qs.filter(organization_id__in=actor.org_ids_with_roles(REGISTRY_WRITERS))
            self.fields["main_institution"].queryset = qs  # type: ignore[attr-defined]
            self.fields["id_number"].required = True
        else:
            del self.fields["main_institution"]

    def action_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if not data.get("id_number"):
            data.pop("id_number", None)
        inst = data.pop("main_institution", None)
        if inst is not None:
            data["main_institution_id"] = inst.pk
        return data


class PractitionerStatusForm(EdgeFormMixin, forms.Form):
    status = forms.ChoiceField(label=_("状态"), choices=PractitionerStatus.choices)
    reason = forms.CharField(label=_("原因"), max_length=500, required=False)


class QualificationForm(EdgeFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=QualificationKind.choices)
    subject = forms.ChoiceField(label=_("专业(科目)"), choices=_blank(Subject.choices), required=False)
    filing_date = forms.DateField(label=_("备案日期"), required=False, widget=DATE)
    qualifying_years = forms.IntegerField(
        label=_("相关临床工作年限"), required=False, min_value=0, max_value=80
    )
    issuer = forms.CharField(label=_("发证/备案机关"), max_length=128, required=False)
    number = forms.CharField(label=_("证书编号"), max_length=64, required=False)
    product_reference = forms.CharField(label=_("产品/设备型号"), max_length=128, required=False)
    valid_from = forms.DateField(label=_("有效期自"), required=False, widget=DATE)
    valid_until = forms.DateField(label=_("有效期至"), required=False, widget=DATE)
    hours = forms.DecimalField(label=_("学时"), required=False, min_value=0, max_digits=6, decimal_places=1)
    credits = forms.DecimalField(label=_("学分"), required=False, min_value=0, max_digits=5, decimal_places=1)
    credit_class = forms.ChoiceField(label=_("学分类别"), choices=_blank(CreditClass.choices), required=False)
    year = forms.IntegerField(label=_("年度"), required=False, min_value=1950, max_value=2100)
    duration_months = forms.IntegerField(label=_("时长(月)"), required=False, min_value=0, max_value=600)
    evidence = forms.FileField(label=_("证明文件"), required=False)

    def action_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if not data.get("evidence"):
            data.pop("evidence", None)
        return data


class QualificationVerifyForm(EdgeFormMixin, forms.Form):
    status = forms.ChoiceField(
        label=_("核验结果"), choices=[("verified", _("已核验")), ("rejected", _("核验不通过"))]
    )
    note = forms.CharField(label=_("核验说明"), max_length=500, required=False)


class _SupplierChoice:
    """Create forms pick the supplier among those the actor may write (usually exactly one: preselected)."""

    def _suppliers(self, actor: Actor, creating: bool) -> None:
        form: Any = self
        if creating:
            qs = Supplier.objects.writable_by(actor).order_by("name", "pk")
            form.fields["supplier"].queryset = qs
            if len(qs[:2]) == 1:
                form.fields["supplier"].initial = qs[0].pk
        else:
            del form.fields["supplier"]

    def _supplier_kwargs(self, data: dict[str, Any]) -> dict[str, Any]:
        supplier = data.pop("supplier", None)
        if supplier is not None:
            data["supplier_id"] = supplier.pk
        return data


class ProductForm(_SupplierChoice, EdgeFormMixin, forms.Form):
    """A supplier's product: the same fields as the API; ``create_product``/``update_product`` validate
    (registration number format per kind and class, high-risk categories, dose units — Product.clean)."""

    supplier = forms.ModelChoiceField(label=_("供应商"), queryset=Supplier.objects.none())
    generic_name = forms.CharField(label=_("通用名称"), max_length=128)
    brand_name = forms.CharField(label=_("商品名/品牌"), max_length=128, required=False)
    kind = forms.ChoiceField(label=_("类别"), choices=ProductKind.choices)
    risk_class = forms.ChoiceField(
        label=_("管理类别"),
        choices=_blank(RiskClass.choices),
        required=False,
        help_text=_("医疗器械和耗材必填;药品不填"),
    )
    registration_no = forms.CharField(
        label=_("注册证/备案/批准文号"),
        max_length=64,
        help_text=_("如:国械注准20153130001、国药准字S20190001"),
    )
    registrant = forms.CharField(label=_("注册人/上市许可持有人"), max_length=128)
    registration_valid_until = forms.DateField(label=_("注册证有效期至"), widget=DATE)
    category = forms.ChoiceField(label=_("成分/品类"), choices=ProductCategory.choices)
    high_risk = forms.BooleanField(
        label=_("高风险"), required=False, help_text=_("肉毒毒素和透明质酸钠产品必须标记为高风险")
    )
    dose_unit = forms.ChoiceField(label=_("剂量单位"), choices=DoseUnit.choices)
    cold_chain = forms.BooleanField(label=_("需冷链储运(2–8℃)"), required=False)
    udi_di = forms.CharField(label=_("UDI-DI (GTIN)"), max_length=14, required=False)

    def __init__(self, *args: Any, actor: Actor, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._suppliers(actor, creating)

    def action_kwargs(self) -> dict[str, Any]:
        return self._supplier_kwargs(dict(self.cleaned_data))


class DistributionAuthorizationForm(_SupplierChoice, EdgeFormMixin, forms.Form):
    """A brand owner's authorization for the supplier to distribute (DD-01)."""

    supplier = forms.ModelChoiceField(label=_("供应商"), queryset=Supplier.objects.none())
    brand = forms.CharField(label=_("品牌"), max_length=128)
    registrant = forms.CharField(label=_("注册人/生产企业"), max_length=128)
    territory = forms.CharField(
        label=_("授权区域"), max_length=128, required=False, help_text=_("如:湖南省、全国")
    )
    valid_from = forms.DateField(label=_("有效期自"), widget=DATE)
    valid_until = forms.DateField(label=_("有效期至"), widget=DATE)
    evidence = forms.FileField(
        label=_("授权书"), required=False, help_text=_("PDF 或图片;修改时不选文件表示不变")
    )
    note = forms.CharField(
        label=_("备注"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, actor: Actor, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._suppliers(actor, creating)

    def action_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if not data.get("evidence"):
            data.pop("evidence", None)
        return self._supplier_kwargs(data)
