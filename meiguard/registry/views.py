"""Registry pages: thin views that call one query or action and render. Foreign ids are 404s."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.core.access import Actor
from meiguard.core.errors import ActionError
from meiguard.rules.choices import PROVINCES, InstitutionType, Profession, Subject

from . import actions, queries
from .choices import DeviceStatus, InstitutionStatus, LotStatus, PractitionerStatus, ProductKind
from .forms import (
    InstitutionForm,
    PractitionerForm,
    PractitionerStatusForm,
    QualificationForm,
    QualificationVerifyForm,
    apply_action_error,
)
from .models import Device, Institution, Lot, Practitioner, Product, Qualification

PAGE_SIZE = 25


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


def _param(request: HttpRequest, name: str) -> str:
    return request.GET.get(name, "").strip()[:64]


def _date_param(request: HttpRequest, name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(_param(request, name)) if _param(request, name) else None
    except ValueError:
        return None


def _int_param(request: HttpRequest, name: str) -> int | None:
    raw = _param(request, name)
    return int(raw) if raw.isdigit() else None


def _page(request: HttpRequest, qs: QuerySet[Any]) -> dict[str, Any]:
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"page": page, "querystring": query.urlencode()}


def _detail_ctx(request: HttpRequest, obj: Any, **extra: Any) -> dict[str, Any]:
    actor = _actor(request)
    return {
        "object": obj,
        "can_write": queries.can_write(actor, obj),
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
    ctx = _page(request, qs) | {
        "types": InstitutionType.choices,
        "statuses": InstitutionStatus.choices,
        "subjects": Subject.choices,
        "provinces": PROVINCES,
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
        "next_verification_due",
        "province",
        "city",
    ]
    return {f: getattr(obj, f) for f in fields}


@login_required
def institution_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    actor = _actor(request)
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
    ctx = _page(request, qs) | {
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
    ctx = _detail_ctx(
        request,
        practitioner,
        qualifications=queries.qualifications(actor, practitioner_id=practitioner.pk),
        sites=queries.practitioner_sites(actor, practitioner_id=practitioner.pk),
        status_form=PractitionerStatusForm(initial={"status": practitioner.status}),
        today=timezone.localdate(),
    )
    return render(request, "registry/practitioner_detail.html", ctx)


@login_required
def practitioner_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    actor = _actor(request)
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


# --- products, lots, devices ----------------------------------------------------------------------


@login_required
def product_list(request: HttpRequest) -> HttpResponse:
    high_risk = {"1": True, "0": False}.get(_param(request, "high_risk"))
    qs = queries.products(
        _actor(request),
        kind=_param(request, "kind") or None,
        high_risk=high_risk,
        q=_param(request, "q") or None,
    )
    ctx = _page(request, qs) | {"kinds": ProductKind.choices, "f": request.GET}
    return render(request, "registry/product_list.html", ctx)


@login_required
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    product = queries.visible(Product, actor, pk)
    ctx = _detail_ctx(
        request, product, lots=queries.lots(actor, product_id=product.pk)[:100], today=timezone.localdate()
    )
    return render(request, "registry/product_detail.html", ctx)


@login_required
def lot_list(request: HttpRequest) -> HttpResponse:
    qs = queries.lots(
        _actor(request),
        status=_param(request, "status") or None,
        expires_before=_date_param(request, "expires_before"),
        institution_id=_int_param(request, "institution"),
        q=_param(request, "q") or None,
    )
    ctx = _page(request, qs) | {
        "statuses": LotStatus.choices,
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
    ctx = _page(request, qs) | {
        "statuses": DeviceStatus.choices,
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
