"""Registry pages: thin views that call one query or action and render. Foreign ids are 404s."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from meiguard.core import permissions
from meiguard.core.errors import ActionError
from meiguard.core.params import actor as _actor
from meiguard.core.params import date_param as _date_param
from meiguard.core.params import int_param as _int_param
from meiguard.core.params import param as _param
from meiguard.rules.choices import PROVINCE_LABELS, PROVINCES, InstitutionType, Profession, Subject
from meiguard.workspace.listing import Column, Listing
from meiguard.workspace.listing import page_or_export as _listed

from . import actions, queries
from .choices import (
    DeviceStatus,
    InstitutionStatus,
    LotStatus,
    PractitionerStatus,
    ProductCategory,
    ProductKind,
    SiteRequestStatus,
)
from .forms import (
    DistributionAuthorizationForm,
    InstitutionForm,
    PractitionerForm,
    PractitionerStatusForm,
    ProductForm,
    QualificationForm,
    QualificationVerifyForm,
    apply_action_error,
)
from .models import (
    Device,
    DistributionAuthorization,
    Institution,
    Lot,
    Practitioner,
    PractitionerSiteRequest,
    Product,
    Qualification,
)


def _type_text(i: Institution) -> str:
    return (
        f"{i.get_institution_type_display()} · {i.get_hospital_level_display()}"
        if i.hospital_level
        else (str(i.get_institution_type_display()))
    )


def _product_name(p: Product) -> str:
    return p.brand_name or p.generic_name


# Each list's columns, declared once: the page's sortable headers and the Excel export come from them.
INSTITUTIONS = Listing(
    "institutions",
    gettext_lazy("医疗机构"),
    (
        Column("name", gettext_lazy("机构名称"), lambda i: i.name, order_by=("name",), width=28),
        Column(
            "type",
            gettext_lazy("机构类型"),
            _type_text,
            order_by=("institution_type", "hospital_level"),
            width=24,
        ),
        Column(
            "place",
            gettext_lazy("省份/城市"),
            lambda i: f"{i.province} {i.city}",
            order_by=("province", "city"),
        ),
        Column(
            "licence_valid_until",
            gettext_lazy("许可证有效期至"),
            lambda i: i.licence_valid_until,
            order_by=("licence_valid_until",),
        ),
        Column("status", gettext_lazy("状态"), lambda i: i.get_status_display(), order_by=("status",)),
        Column(
            "credit_code", gettext_lazy("统一社会信用代码"), lambda i: i.credit_code, screen=False, width=22
        ),
        Column(
            "licence_no",
            gettext_lazy("执业许可证登记号/备案凭证编号"),
            lambda i: i.licence_no,
            screen=False,
            width=28,
        ),
        Column(
            "subjects", gettext_lazy("医疗美容诊疗科目"), lambda i: i.subject_labels(), screen=False, width=30
        ),
        Column(
            "last_verified_on",
            gettext_lazy("上次校验日期"),
            lambda i: i.last_verified_on,
            screen=False,
        ),
        Column(
            "next_verification_due",
            gettext_lazy("下次校验到期日"),
            lambda i: i.next_verification_due,
            screen=False,
        ),
    ),
)
PRACTITIONERS = Listing(
    "practitioners",
    gettext_lazy("执业人员"),
    (
        Column("name", gettext_lazy("姓名"), lambda p: p.name, order_by=("name",)),
        # Masked exactly as on the page: the export never carries a full ID number.
        Column("id_number", gettext_lazy("身份证号"), lambda p: p.masked_id_number, width=22),
        Column(
            "profession",
            gettext_lazy("职业"),
            lambda p: f"{p.get_profession_display()} · {p.get_title_display()}",
            order_by=("profession", "title"),
        ),
        Column(
            "main_institution",
            gettext_lazy("主执业机构"),
            lambda p: p.main_institution.name,
            order_by=("main_institution__name",),
            width=28,
        ),
        Column("status", gettext_lazy("状态"), lambda p: p.get_status_display(), order_by=("status",)),
        Column("licence_no", gettext_lazy("执业证书编码"), lambda p: p.licence_no, screen=False, width=20),
        Column("practising_since", gettext_lazy("开始执业日期"), lambda p: p.practising_since, screen=False),
    ),
)
PRODUCTS = Listing(
    "products",
    gettext_lazy("产品"),
    (
        Column(
            "name", gettext_lazy("产品"), _product_name, order_by=("brand_name", "generic_name"), width=24
        ),
        Column(
            "kind",
            gettext_lazy("类别"),
            lambda p: f"{p.get_kind_display()} {p.get_risk_class_display()}".strip(),
            order_by=("kind", "risk_class"),
        ),
        Column(
            "registration_no",
            gettext_lazy("注册证/备案/批准文号"),
            lambda p: p.registration_no,
            order_by=("registration_no",),
            width=24,
        ),
        Column(
            "registration_valid_until",
            gettext_lazy("注册证有效期至"),
            lambda p: p.registration_valid_until,
            order_by=("registration_valid_until",),
        ),
        Column(
            "supplier",
            gettext_lazy("供应商"),
            lambda p: p.supplier.name,
            order_by=("supplier__name",),
            width=26,
        ),
        Column("generic_name", gettext_lazy("通用名称"), lambda p: p.generic_name, screen=False, width=24),
        Column(
            "registrant",
            gettext_lazy("注册人/上市许可持有人"),
            lambda p: p.registrant,
            screen=False,
            width=26,
        ),
        Column("category", gettext_lazy("成分/品类"), lambda p: p.get_category_display(), screen=False),
        Column("high_risk", gettext_lazy("高风险"), lambda p: p.high_risk, screen=False, width=10),
    ),
)
LOTS = Listing(
    "lots",
    gettext_lazy("批次"),
    (
        Column(
            "product",
            gettext_lazy("产品"),
            lambda lot: _product_name(lot.product),
            order_by=("product__brand_name", "product__generic_name"),
        ),
        Column("lot_no", gettext_lazy("批号"), lambda lot: lot.lot_no, order_by=("lot_no",)),
        Column(
            "expiry_date", gettext_lazy("失效日期"), lambda lot: lot.expiry_date, order_by=("expiry_date",)
        ),
        Column("quantity", gettext_lazy("数量"), lambda lot: lot.quantity, order_by=("quantity",), width=12),
        Column(
            "institution",
            gettext_lazy("机构"),
            lambda lot: lot.institution.name,
            order_by=("institution__name",),
            width=26,
        ),
        Column("status", gettext_lazy("状态"), lambda lot: lot.get_status_display(), order_by=("status",)),
        Column("unit", gettext_lazy("单位"), lambda lot: lot.get_unit_display(), screen=False, width=12),
        Column("production_date", gettext_lazy("生产日期"), lambda lot: lot.production_date, screen=False),
        Column(
            "recall_level",
            gettext_lazy("召回级别"),
            lambda lot: lot.get_recall_level_display() if lot.recall_level else "",
            screen=False,
        ),
    ),
)
DEVICES = Listing(
    "devices",
    gettext_lazy("设备"),
    (
        Column(
            "product",
            gettext_lazy("产品"),
            lambda d: _product_name(d.product),
            order_by=("product__brand_name", "product__generic_name"),
        ),
        Column(
            "serial_no", gettext_lazy("序列号"), lambda d: d.serial_no or d.udi_di, order_by=("serial_no",)
        ),
        Column(
            "next_inspection_due",
            gettext_lazy("下次检查到期"),
            lambda d: d.next_inspection_due,
            order_by=("next_inspection_due",),
        ),
        Column(
            "next_calibration_due",
            gettext_lazy("下次校准到期"),
            lambda d: d.next_calibration_due,
            order_by=("next_calibration_due",),
        ),
        Column(
            "institution",
            gettext_lazy("机构"),
            lambda d: d.institution.name,
            order_by=("institution__name",),
            width=26,
        ),
        Column("status", gettext_lazy("状态"), lambda d: d.get_status_display(), order_by=("status",)),
        Column("udi_di", gettext_lazy("UDI-DI (GTIN)"), lambda d: d.udi_di, screen=False),
        Column(
            "last_inspection_on", gettext_lazy("上次检查日期"), lambda d: d.last_inspection_on, screen=False
        ),
        Column(
            "last_calibration_on", gettext_lazy("上次校准日期"), lambda d: d.last_calibration_on, screen=False
        ),
    ),
)


def _detail_ctx(request: HttpRequest, obj: Any, **extra: Any) -> dict[str, Any]:
    actor = _actor(request)
    return {
        "object": obj,
        "can_write": permissions.can(actor, "registry.change", obj),
        "history": queries.audit_history(actor, obj),
        **extra,
    }


@login_required
def index(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    today = timezone.localdate()
    horizon = today + dt.timedelta(days=90)
    counts = {
        "institutions": queries.institutions(actor).count(),
        "practitioners": queries.practitioners(actor).count(),
        "products": queries.products(actor).count(),
        "lots": queries.lots(actor).count(),
        "devices": queries.devices(actor).count(),
        "overdue_devices": queries.devices(actor, overdue=True, on=today).count(),
        "expiring_lots": queries.lots(actor, expires_before=horizon).count(),
    }
    return render(request, "registry/index.html", {"counts": counts, "horizon": horizon})


# --- institutions ---------------------------------------------------------------------------------


@login_required
def institution_list(request: HttpRequest) -> HttpResponse:
    qs = queries.institutions(
        _actor(request),
        institution_type=_param(request, "type") or None,
        province=_param(request, "province") or None,
        status=_param(request, "status") or None,
        subject=_param(request, "subject") or None,
        q=_param(request, "q") or None,
    )
    listed = _listed(request, qs, INSTITUTIONS)
    if isinstance(listed, HttpResponse):
        return listed
    ctx = listed | {
        "types": InstitutionType.choices,
        "statuses": InstitutionStatus.choices,
        "subjects": Subject.choices,
        "provinces": [(p, PROVINCE_LABELS[p]) for p in PROVINCES],
        "f": request.GET,
    }
    return render(request, "registry/institution_list.html", ctx)


@login_required
def institution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    institution = queries.visible(Institution, actor, pk)
    ctx = _detail_ctx(
        request,
        institution,
        grade=queries.permitted_grade(institution),
        practitioners=queries.practitioners(actor, institution_id=institution.pk)[:100],
        today=timezone.localdate(),
    )
    return render(request, "registry/institution_detail.html", ctx)


def _institution_initial(obj: Institution) -> dict[str, Any]:
    fields = [
        "name",
        "credit_code",
        "licence_kind",
        "licence_no",
        "institution_type",
        "hospital_level",
        "has_anesthesiology",
        "subjects",
        "licence_valid_from",
        "licence_valid_until",
        "verification_cycle_years",
        "last_verified_on",
        "next_verification_due",
        "province",
        "city",
    ]
    return {f: getattr(obj, f) for f in fields}


@login_required
def institution_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    actor = _actor(request)
    if pk is None:
        permissions.require(actor, "registry.institution.create")  # refuse at GET, not after saving
    institution = queries.for_update_readonly(Institution, actor, pk) if pk else None
    initial = _institution_initial(institution) if institution else {}
    form = InstitutionForm(request.POST or None, initial=initial, actor=actor, creating=institution is None)
    if request.method == "POST" and form.is_valid():
        try:
            if institution is None:
                institution = actions.create_institution(actor, **form.action_kwargs())
            else:
                institution = actions.update_institution(actor, institution.pk, **form.action_kwargs())
        except ActionError as exc:
            apply_action_error(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("registry:institution_detail", pk=institution.pk)
    return render(
        request,
        "registry/form.html",
        {"form": form, "object": institution, "title": _("机构") if institution else _("登记机构")},
    )


# --- practitioners --------------------------------------------------------------------------------


@login_required
def practitioner_list(request: HttpRequest) -> HttpResponse:
    qs = queries.practitioners(
        _actor(request),
        institution_id=_int_param(request, "institution"),
        profession=_param(request, "profession") or None,
        status=_param(request, "status") or None,
        q=_param(request, "q") or None,
        expiring_before=_date_param(request, "expiring_before"),
    )
    listed = _listed(request, qs, PRACTITIONERS)
    if isinstance(listed, HttpResponse):
        return listed
    ctx = listed | {
        "professions": Profession.choices,
        "statuses": PractitionerStatus.choices,
        "f": request.GET,
        "institutions": queries.institutions(_actor(request)),
    }
    return render(request, "registry/practitioner_list.html", ctx)


@login_required
def practitioner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    practitioner = queries.visible(Practitioner, actor, pk)
    qualifications = list(queries.qualifications(actor, practitioner_id=practitioner.pk))
    sites = list(queries.practitioner_sites(actor, practitioner_id=practitioner.pk))
    ctx = _detail_ctx(
        request,
        practitioner,
        qualifications=qualifications,
        sites=sites,
        status_form=PractitionerStatusForm(initial={"status": practitioner.status}),
        today=timezone.localdate(),
    )
    # The whole record's history: the person, their credentials and their multi-site registrations.
    ctx["history"] = queries.audit_history_of(
        actor,
        {
            "registry.practitioner": [practitioner.pk],
            "registry.qualification": [q.pk for q in qualifications],
            "registry.practitionersite": [s.pk for s in sites],
        },
    )
    ctx["history_mixed"] = True
    return render(request, "registry/practitioner_detail.html", ctx)


@login_required
def practitioner_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    actor = _actor(request)
    if pk is None:
        permissions.require(actor, "registry.practitioner.create")  # refuse at GET, not after saving
    practitioner = queries.for_update_readonly(Practitioner, actor, pk) if pk else None
    initial: dict[str, Any] = {}
    if practitioner:
        initial = {
            f: getattr(practitioner, f)
            for f in (
                "name",
                "profession",
                "licence_no",
                "practice_category",
                "practice_scope",
                "title",
                "practising_since",
            )
        }
    form = PractitionerForm(request.POST or None, initial=initial, actor=actor, creating=practitioner is None)
    if request.method == "POST" and form.is_valid():
        try:
            if practitioner is None:
                practitioner = actions.create_practitioner(actor, **form.action_kwargs())
            else:
                practitioner = actions.update_practitioner(actor, practitioner.pk, **form.action_kwargs())
        except ActionError as exc:
            apply_action_error(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("registry:practitioner_detail", pk=practitioner.pk)
    return render(
        request,
        "registry/form.html",
        {"form": form, "object": practitioner, "title": _("执业人员") if practitioner else _("登记执业人员")},
    )


@login_required
@require_POST
def practitioner_status(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    practitioner = queries.for_update_readonly(Practitioner, actor, pk)
    form = PractitionerStatusForm(request.POST)
    if form.is_valid():
        try:
            actions.change_practitioner_status(actor, practitioner.pk, **form.cleaned_data)
        except ActionError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("状态已更新"))
    else:
        messages.error(request, _("请选择有效的状态"))
    return redirect("registry:practitioner_detail", pk=practitioner.pk)


@login_required
def qualification_form(request: HttpRequest, practitioner_pk: int, pk: int | None = None) -> HttpResponse:
    actor = _actor(request)
    practitioner = queries.for_update_readonly(Practitioner, actor, practitioner_pk)
    qualification = None
    initial: dict[str, Any] = {}
    if pk:
        qualification = queries.for_update_readonly(Qualification, actor, pk)
        if qualification.practitioner_id != practitioner.pk:
            raise queries.Http404("not found")
        initial = {
            f: getattr(qualification, f)
            for f in (
                "kind",
                "subject",
                "filing_date",
                "qualifying_years",
                "issuer",
                "number",
                "product_reference",
                "valid_from",
                "valid_until",
                "hours",
                "credits",
                "credit_class",
                "year",
            )
        }
    form = QualificationForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if qualification is None:
                actions.create_qualification(actor, practitioner_id=practitioner.pk, **form.action_kwargs())
            else:
                actions.update_qualification(actor, qualification.pk, **form.action_kwargs())
        except ActionError as exc:
            apply_action_error(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("registry:practitioner_detail", pk=practitioner.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "object": qualification,
            "parent": practitioner,
            "multipart": True,
            "title": _("资质") if qualification else _("登记资质"),
        },
    )


@login_required
def qualification_verify(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    qualification = queries.for_update_readonly(Qualification, actor, pk)
    form = QualificationVerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.verify_qualification(actor, qualification.pk, **form.cleaned_data)
        except ActionError as exc:
            apply_action_error(form, exc)
        else:
            messages.success(request, _("已核验"))
            return redirect("registry:practitioner_detail", pk=qualification.practitioner_id)
    return render(
        request, "registry/form.html", {"form": form, "object": qualification, "title": _("核验资质")}
    )


# --- multi-site requests --------------------------------------------------------------------------


@login_required
def site_requests(request: HttpRequest) -> HttpResponse:
    """Incoming requests (other institutions asking to register our practitioners) with accept / refuse for
    the practitioner's main institution's admins and compliance officers; and the requests we sent."""
    actor = _actor(request)
    incoming = list(queries.incoming_site_requests(actor)[:200])
    decidable = set(
        PractitionerSiteRequest.objects.writable_by(actor)
        .filter(pk__in=[r.pk for r in incoming], status=SiteRequestStatus.PENDING)
        .values_list("pk", flat=True)
    )
    outgoing = list(queries.outgoing_site_requests(actor)[:200])
    return render(
        request,
        "registry/site_requests.html",
        {"incoming": incoming, "decidable": decidable, "outgoing": outgoing},
    )


@login_required
@require_POST
def site_request_decide(request: HttpRequest, pk: int, verdict: str) -> HttpResponse:
    actor = _actor(request)
    note = (request.POST.get("note") or "").strip()
    if len(note) > 500:
        messages.error(request, _("处理意见不能超过 500 字"))
        return redirect("registry:site_requests")
    try:
        actions.decide_practitioner_site_request(actor, pk, accept=verdict == "accept", note=note)
    except ActionError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("已同意,多点执业已登记") if verdict == "accept" else _("已拒绝"))
    return redirect("registry:site_requests")


# --- products, lots, devices ----------------------------------------------------------------------


@login_required
def product_list(request: HttpRequest) -> HttpResponse:
    high_risk = {"1": True, "0": False}.get(_param(request, "high_risk"))
    category = _param(request, "category")
    qs = queries.products(
        _actor(request),
        kind=_param(request, "kind") or None,
        high_risk=high_risk,
        category=category if category in ProductCategory.values else None,
        supplier_id=_int_param(request, "supplier"),
        q=_param(request, "q") or None,
    )
    listed = _listed(request, qs, PRODUCTS)
    if isinstance(listed, HttpResponse):
        return listed
    ctx = listed | {
        "kinds": ProductKind.choices,
        "categories": ProductCategory.choices,
        "suppliers": queries.suppliers(_actor(request)),
        "f": request.GET,
        "can_create": permissions.can(_actor(request), "registry.product.create"),
    }
    return render(request, "registry/product_list.html", ctx)


@login_required
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    product = queries.visible(Product, actor, pk)
    ctx = _detail_ctx(
        request, product, lots=queries.lots(actor, product_id=product.pk)[:100], today=timezone.localdate()
    )
    return render(request, "registry/product_detail.html", ctx)


def _product_initial(obj: Product) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in ProductForm.base_fields if name != "supplier"}


@login_required
def product_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A supplier registers or edits its own products (another supplier's product: 404); the actions validate
    as for the API and write the audit entry."""
    actor = _actor(request)
    if pk is None:
        permissions.require(actor, "registry.product.create")  # refuse at GET, not after saving
    product = queries.for_update_readonly(Product, actor, pk) if pk else None
    initial = _product_initial(product) if product else {}
    form = ProductForm(request.POST or None, initial=initial, actor=actor, creating=product is None)
    if request.method == "POST" and form.is_valid():
        try:
            if product is None:
                product = actions.create_product(actor, **form.action_kwargs())
            else:
                product = actions.update_product(actor, product.pk, **form.action_kwargs())
        except ActionError as exc:
            apply_action_error(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("registry:product_detail", pk=product.pk)
    title = _("编辑产品") if product else _("登记产品")
    return render(request, "registry/form.html", {"form": form, "object": product, "title": title})


# --- distribution authorizations (DD-01) ----------------------------------------------------------


@login_required
def distribution_authorization_list(request: HttpRequest) -> HttpResponse:
    """Every visible distribution authorization (reference data: clinics check their suppliers'), with the
    supplier's own edit links."""
    actor = _actor(request)
    rows = list(
        queries.distribution_authorizations(
            actor, supplier_id=_int_param(request, "supplier"), q=_param(request, "q") or None
        ).order_by("supplier__name", "brand", "-valid_until", "pk")[:500]
    )
    writable = set(
        DistributionAuthorization.objects.writable_by(actor)  # type: ignore[attr-defined]
        .filter(pk__in=[r.pk for r in rows])
        .values_list("pk", flat=True)
    )
    ctx = {
        "rows": [{"object": r, "can_write": r.pk in writable} for r in rows],
        "today": timezone.localdate(),
        "suppliers": queries.suppliers(actor),
        "f": request.GET,
    }
    return render(request, "registry/distribution_authorization_list.html", ctx)


@login_required
def distribution_authorization_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    actor = _actor(request)
    if pk is None:
        permissions.require(actor, "registry.distributionauthorization.create")
    obj = queries.for_update_readonly(DistributionAuthorization, actor, pk) if pk else None
    initial = (
        {
            n: getattr(obj, n)
            for n in DistributionAuthorizationForm.base_fields
            if n not in ("supplier", "evidence")
        }
        if obj
        else {}
    )
    form = DistributionAuthorizationForm(
        request.POST or None, request.FILES or None, initial=initial, actor=actor, creating=obj is None
    )
    if request.method == "POST" and form.is_valid():
        try:
            if obj is None:
                obj = actions.create_distribution_authorization(actor, **form.action_kwargs())
            else:
                obj = actions.update_distribution_authorization(actor, obj.pk, **form.action_kwargs())
        except ActionError as exc:
            apply_action_error(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("registry:distribution_authorization_list")
    ctx = {
        "form": form,
        "object": obj,
        "title": _("编辑经销授权") if obj else _("登记经销授权"),
        "multipart": True,
        "history": queries.audit_history(actor, obj) if obj else None,
    }
    return render(request, "registry/form.html", ctx)


@login_required
def distribution_authorization_evidence(request: HttpRequest, pk: int) -> FileResponse:
    """The authorization letter, decrypted, for those who may see the authorization."""
    obj = queries.visible(DistributionAuthorization, _actor(request), pk)
    if not obj.evidence:
        raise Http404(_("没有文件"))
    return FileResponse(
        obj.evidence.open("rb"), as_attachment=True, filename=obj.evidence.name.rsplit("/", 1)[-1]
    )


@login_required
def lot_list(request: HttpRequest) -> HttpResponse:
    qs = queries.lots(
        _actor(request),
        status=_param(request, "status") or None,
        expires_before=_date_param(request, "expires_before"),
        institution_id=_int_param(request, "institution"),
        q=_param(request, "q") or None,
    )
    listed = _listed(request, qs, LOTS)
    if isinstance(listed, HttpResponse):
        return listed
    ctx = listed | {
        "statuses": LotStatus.choices,
        "institutions": queries.institutions(_actor(request)),
        "f": request.GET,
        "today": timezone.localdate(),
    }
    return render(request, "registry/lot_list.html", ctx)


@login_required
def lot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lot = queries.visible(Lot, _actor(request), pk)
    return render(request, "registry/lot_detail.html", _detail_ctx(request, lot, today=timezone.localdate()))


@login_required
def device_list(request: HttpRequest) -> HttpResponse:
    overdue = {"1": True, "0": False}.get(_param(request, "overdue"))
    qs = queries.devices(
        _actor(request),
        status=_param(request, "status") or None,
        overdue=overdue,
        institution_id=_int_param(request, "institution"),
        q=_param(request, "q") or None,
    )
    listed = _listed(request, qs, DEVICES)
    if isinstance(listed, HttpResponse):
        return listed
    ctx = listed | {
        "statuses": DeviceStatus.choices,
        "institutions": queries.institutions(_actor(request)),
        "f": request.GET,
        "today": timezone.localdate(),
    }
    return render(request, "registry/device_list.html", ctx)


@login_required
def device_detail(request: HttpRequest, pk: int) -> HttpResponse:
    device = queries.visible(Device, _actor(request), pk)
    today = timezone.localdate()
    ctx = _detail_ctx(request, device, today=today, overdue=device.is_overdue(today))
    return render(request, "registry/device_detail.html", ctx)
