"""Every read of the device file, tenant-scoped (``visible_to``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from meiguard.core.access import Actor
from meiguard.core.models import Membership, User
from meiguard.registry.choices import DeviceStatus
from meiguard.registry.models import Device
from meiguard.rules.institution import DeviceInterval, device_intervals_for

from .choices import REMIND_DAYS_BEFORE, UpkeepState
from .models import UpkeepRecord


def _late(on: dt.date) -> Q:
    return Q(next_inspection_due__lt=on) | Q(next_calibration_due__lt=on)


def _soon(on: dt.date) -> Q:
    horizon = on + dt.timedelta(days=REMIND_DAYS_BEFORE)
    return Q(next_inspection_due__lte=horizon) | Q(next_calibration_due__lte=horizon)


def state_filter(state: str, on: dt.date) -> Q:
    """The devices in one upkeep state (the list's filter; the same rules as ``upkeep_state``)."""
    in_service = Q(status=DeviceStatus.ACTIVE)
    if state == UpkeepState.SCRAPPED:
        return Q(status=DeviceStatus.RETIRED)
    if state == UpkeepState.OUT_OF_SERVICE:
        return ~in_service & ~Q(status=DeviceStatus.RETIRED)
    if state == UpkeepState.OVERDUE:
        return in_service & _late(on)
    if state == UpkeepState.DUE_SOON:
        return in_service & _soon(on) & ~_late(on)
    return in_service & ~_soon(on)


def upkeep_state(device: Device, on: dt.date) -> str:
    if device.status == DeviceStatus.RETIRED:
        return UpkeepState.SCRAPPED
    if device.status != DeviceStatus.ACTIVE:
        return UpkeepState.OUT_OF_SERVICE
    dues = [d for d in (device.next_inspection_due, device.next_calibration_due) if d is not None]
    if any(d < on for d in dues):
        return UpkeepState.OVERDUE
    if any(d <= on + dt.timedelta(days=REMIND_DAYS_BEFORE) for d in dues):
        return UpkeepState.DUE_SOON
    return UpkeepState.OK


def devices(
    actor: Actor,
    *,
    on: dt.date,
    institution_id: int | None = None,
    state: str | None = None,
    q: str | None = None,
) -> QuerySet[Device]:
    qs = Device.objects.visible_to(actor).select_related("product", "institution")
    if institution_id:
        qs = qs.filter(institution_id=institution_id)
    if state:
        qs = qs.filter(state_filter(state, on))
    if q:
        qs = qs.filter(
            Q(serial_no__icontains=q)
            | Q(udi_di__icontains=q)
            | Q(product__generic_name__icontains=q)
            | Q(product__brand_name__icontains=q)
        )
    return qs.order_by("institution_id", "pk")


def device(actor: Actor, pk: int) -> Device:
    return get_object_or_404(Device.objects.visible_to(actor).select_related("product", "institution"), pk=pk)


def records(actor: Actor, *, device_id: int | None = None) -> QuerySet[UpkeepRecord]:
    qs = UpkeepRecord.objects.visible_to(actor).select_related("performed_by", "recorded_by", "device")
    if device_id is not None:
        qs = qs.filter(device_id=device_id)
    return qs.order_by("-performed_on", "-pk")


def record(actor: Actor, pk: int) -> UpkeepRecord:
    qs = UpkeepRecord.objects.visible_to(actor).select_related(
        "performed_by", "recorded_by", "device__product", "device__institution"
    )
    return get_object_or_404(qs, pk=pk)


def overdue(actor: Actor, on: dt.date) -> QuerySet[Device]:
    """In-service devices past an inspection or calibration due date, plus those out of service (workspace)."""
    late = state_filter(UpkeepState.OVERDUE, on) | state_filter(UpkeepState.OUT_OF_SERVICE, on)
    return Device.objects.visible_to(actor).filter(late).select_related("product", "institution")


def staff_of(device: Device) -> QuerySet[User]:
    """The institution's people (active members), who may be named as having performed a record."""
    ids = Membership.objects.filter(
        organization_id=device.institution.organization_id, is_active=True
    ).values("user_id")
    return User.objects.filter(pk__in=ids, is_active=True).order_by("display_name", "username")


@dataclass(frozen=True, slots=True)
class Intervals:
    """A device's intervals as the file shows them: its own, else the institution policy's (with its rule)."""

    inspection_days: int | None
    inspection_from_policy: bool
    calibration_days: int | None
    calibration_from_policy: bool
    policy_inspection: DeviceInterval
    policy_calibration: DeviceInterval


def intervals(device: Device, on: dt.date) -> Intervals:
    inspection, calibration = device_intervals_for(device.institution.province, device.institution_id, on)
    return Intervals(
        device.inspection_interval_days or inspection.days,
        device.inspection_interval_days is None and inspection.days is not None,
        device.calibration_interval_days or calibration.days,
        device.calibration_interval_days is None and calibration.days is not None,
        inspection,
        calibration,
    )
