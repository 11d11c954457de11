"""Device-file pages: the list with upkeep status, a device's file with its history and the record forms
(htmx: the form answers with itself, errors inline, or with the refreshed file), and a record's page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from meiguard.core import permissions
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param, param
from meiguard.registry.models import Device
from meiguard.registry.queries import institutions as visible_institutions
from meiguard.workspace.listing import Column, Listing, page_or_export

from . import actions, queries
from .choices import Performer, UpkeepKind, UpkeepResult, UpkeepState
from .models import UpkeepRecord

DEVICES = Listing(
    "device-upkeep",
    gettext_lazy("设备档案"),
    (
        Column("device", gettext_lazy("设备"), str, order_by=("product__brand_name", "serial_no")),
        Column(
            "institution", gettext_lazy("机构"), lambda d: d.institution.name, order_by=("institution__name",)
        ),
        Column(
            "next_inspection_due",
            gettext_lazy("下次巡检到期"),
            lambda d: d.next_inspection_due,
            order_by=("next_inspection_due",),
        ),
        Column(
            "next_calibration_due",
            gettext_lazy("下次校准到期"),
            lambda d: d.next_calibration_due,
            order_by=("next_calibration_due",),
        ),
        Column("status", gettext_lazy("状态"), lambda d: d.get_status_display(), order_by=("status",)),
    ),
)


@login_required
def device_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    permissions.require(actor, "equipment.view")
    today = timezone.localdate()
    state = param(request, "state")
    qs = queries.devices(
        actor,
        on=today,
        institution_id=int_param(request, "institution"),
        state=state if state in UpkeepState.values else None,
        q=param(request, "q")[:64] or None,
    )
    listed = page_or_export(request, qs, DEVICES)
    if isinstance(listed, HttpResponse):
        return listed
    rows = [(d, UpkeepState(queries.upkeep_state(d, today))) for d in listed["page"]]
    ctx = listed | {
        "rows": rows,
        "states": UpkeepState.choices,
        "institutions": visible_institutions(actor),
        "f": request.GET,
        "today": today,
    }
    return render(request, "equipment/device_list.html", ctx)


def _file_context(request: HttpRequest, device: Device, **extra: Any) -> dict[str, Any]:
    actor = _actor(request)
    today = timezone.localdate()
    may_record = permissions.can_for_request(request, "equipment.record", device)
    ctx: dict[str, Any] = {
        "device": device,
        "today": today,
        "state": UpkeepState(queries.upkeep_state(device, today)),
        "intervals": queries.intervals(device, today),
        "records": list(queries.records(actor, device_id=device.pk)[:200]),
        "may_record": may_record and device.status != "retired",
        "energy": actions.is_energy_device(device),
        "kinds": UpkeepKind.choices,
        "results": UpkeepResult.choices,
        "performers": Performer.choices,
        "staff": list(queries.staff_of(device)) if may_record else [],
        "v": {"kind": request.GET.get("kind", UpkeepKind.INSPECTION)[:16], "performed_on": today.isoformat()},
        "errors": [],
    }
    return ctx | extra


@login_required
def device_file(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    permissions.require(actor, "equipment.view")
    device = queries.device(actor, pk)
    return render(request, "equipment/device_file.html", _file_context(request, device))


RECORD_FIELDS = (
    "kind",
    "performed_on",
    "result",
    "performer",
    "performed_by_id",
    "engineer_name",
    "engineer_company",
    "engineer_certificate_no",
    "findings",
)


def _labels() -> dict[str, str]:
    labels = {f.name: str(f.verbose_name) for f in UpkeepRecord._meta.fields}
    labels["performed_by_id"] = labels["performed_by"]
    return labels


def _messages(exc: Exception) -> list[str]:
    labels = _labels()
    if isinstance(exc, FieldErrors):
        return [f"{labels.get(k, k)}:{m}" for k, msgs in exc.errors.items() for m in msgs]
    return [str(getattr(exc, "message", exc))]


@login_required
@require_http_methods(["POST"])
def record_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record upkeep (htmx or plain POST): errors re-render the form (in place for htmx; the page with its 4xx
    status without JS), success shows the file."""
    actor = _actor(request)
    device = queries.device(actor, pk)
    permissions.require(actor, "equipment.record", device)
    values = {k: request.POST.get(k, "")[:4000] for k in RECORD_FIELDS}
    try:
        try:
            performed_on = dt.date.fromisoformat(values["performed_on"].strip()[:10])
        except ValueError:
            raise FieldErrors({"performed_on": [_("日期格式应为 YYYY-MM-DD")]}) from None
        staff = values["performed_by_id"].strip()
        record = actions.record_upkeep(
            actor,
            device.pk,
            kind=values["kind"],
            performed_on=performed_on,
            result=values["result"],
            performer=values["performer"] or Performer.STAFF,
            performed_by_id=int(staff) if staff.isdigit() and len(staff) < 12 else None,
            engineer_name=values["engineer_name"],
            engineer_company=values["engineer_company"],
            engineer_certificate_no=values["engineer_certificate_no"],
            findings=values["findings"],
        )
    except (ActionError, NotFoundField) as exc:
        status = 404 if isinstance(exc, NotFoundField) else int(getattr(exc, "status", 400))
        ctx = _file_context(request, device, v=values, errors=_messages(exc))
        if request.htmx:  # type: ignore[attr-defined]
            # htmx swaps only 2xx answers: the form comes back in place with its errors.
            return render(request, "equipment/partials/_record_form.html", ctx)
        return render(request, "equipment/device_file.html", ctx, status=status)
    messages.success(
        request, _("已录入:%(kind)s %(on)s") % {"kind": record.get_kind_display(), "on": record.performed_on}
    )
    if request.htmx:  # type: ignore[attr-defined]
        response = HttpResponse(status=204)
        response["HX-Redirect"] = request.build_absolute_uri(f"/equipment/devices/{device.pk}/")
        return response
    return redirect("equipment:device", device.pk)


@login_required
def record_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    permissions.require(actor, "equipment.view")
    record = queries.record(actor, pk)
    return render(request, "equipment/record_detail.html", {"record": record, "device": record.device})
