"""Every state change of the device file: recording upkeep (which moves the device's status and dates), and the
daily reminders. Status comes from records, never typed here (docs/equipment.md):

* a passing inspection or calibration sets the device's last inspection/calibration date (the registry derives
  the next due date from it and the interval — the device's own, else the institution policy's);
* the newest record of each check kind (acceptance, installation, inspection, calibration) that failed takes the
  device out of service (``failed_check``: the engine says DEVICE_FAILED_CHECK); a repair recorded as not passed
  (reported, awaiting repair) puts it under maintenance; once every newest check passed and no repair is open
  it is back in service;
* scrapping is final: no record is accepted afterwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.choices import STOCK_WRITERS, Role
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import Membership
from meiguard.registry import queries as registry_queries
from meiguard.registry.actions import apply_policy_intervals
from meiguard.registry.choices import DeviceStatus, ProductCategory
from meiguard.registry.models import Device

from .choices import CHECK_KINDS, REMIND_DAYS_BEFORE, Performer, UpkeepKind, UpkeepResult
from .models import UpkeepRecord

SCHEDULER = Actor.system("scheduler")
# Who keeps the devices and is reminded: 采购 (equipment purchasing and upkeep) and the institution admin.
KEEPER_ROLES = frozenset({Role.PROCUREMENT, Role.INSTITUTION_ADMIN})


def is_energy_device(device: Device) -> bool:
    """An energy device (激光、射频等光电设备) is one whose product's category is 光电设备 — the registry's own
    classification of the product, the same one the engine's product rules read."""
    return device.product.category == ProductCategory.ENERGY_DEVICE


def engineer_required(device: Device, kind: str) -> bool:
    """The maker's engineer performs the quarterly calibration (parameter check) of energy devices (本机构规范
    template, after the seed's operating plan 二(一)1)."""
    return kind == UpkeepKind.CALIBRATION and is_energy_device(device)


def _text(value: Any, limit: int) -> str:
    return str(value or "").strip()[:limit]


def derived_status(device: Device, records: list[tuple[str, str]]) -> str:
    """The device's status from its records, newest first as (kind, result)."""
    newest: dict[str, str] = {}
    for kind, result in records:
        if kind == UpkeepKind.SCRAPPING:
            return DeviceStatus.RETIRED
        newest.setdefault(kind, result)
    if any(newest.get(k) == UpkeepResult.FAIL for k in CHECK_KINDS):
        return DeviceStatus.FAILED_CHECK
    if newest.get(UpkeepKind.REPAIR) == UpkeepResult.FAIL:
        return DeviceStatus.MAINTENANCE
    return DeviceStatus.ACTIVE


@transaction.atomic
def record_upkeep(
    actor: Actor,
    device_id: int,
    *,
    kind: str,
    performed_on: dt.date,
    result: str = "",
    performer: str = Performer.STAFF,
    performed_by_id: int | None = None,
    engineer_name: str = "",
    engineer_company: str = "",
    engineer_certificate_no: str = "",
    findings: str = "",
    today: dt.date | None = None,
) -> UpkeepRecord:
    """Add one record to a device's file and move the device accordingly (one transaction, audited)."""
    visible = registry_queries.parent_for_write(
        Device, actor, device_id, field="device_id", roles=STOCK_WRITERS
    )
    device = (
        Device.objects.select_related("product", "institution")
        .select_for_update(of=("self",))
        .get(pk=visible.pk)
    )
    if device.status == DeviceStatus.RETIRED:
        raise ActionError("DEVICE_SCRAPPED", _("设备已报废,不能再录入记录"), field="device_id", status=409)
    today = today or timezone.localdate()
    findings = str(findings or "").strip()
    errors: dict[str, list[str]] = {}
    if kind not in UpkeepKind.values:
        errors["kind"] = [_("取值无效")]
    if performed_on > today:
        errors.setdefault("performed_on", []).append(_("日期不能晚于今天"))
    if kind == UpkeepKind.SCRAPPING:
        result = ""
        if not findings:
            errors.setdefault("findings", []).append(_("报废须写明原因"))
    elif result not in UpkeepResult.values:
        errors.setdefault("result", []).append(_("请选择结果:合格或不合格"))
    elif result == UpkeepResult.FAIL and not findings:
        errors.setdefault("findings", []).append(_("结果不合格时须写明发现的问题"))
    record = UpkeepRecord(
        device=device,
        kind=kind,
        performed_on=performed_on,
        result=result,
        performer=performer,
        findings=findings[:4000],
        recorded_by_id=actor.user_id,
    )
    if performer == Performer.ENGINEER:
        record.engineer_name = _text(engineer_name, 64)
        record.engineer_company = _text(engineer_company, 128)
        record.engineer_certificate_no = _text(engineer_certificate_no, 64)
        for field, value in (
            ("engineer_name", record.engineer_name),
            ("engineer_company", record.engineer_company),
            ("engineer_certificate_no", record.engineer_certificate_no),
        ):
            if not value:
                errors.setdefault(field, []).append(_("厂家工程师须填写姓名、所属公司和证书编号"))
    elif performer == Performer.STAFF:
        if performed_by_id is None:
            errors.setdefault("performed_by_id", []).append(_("请选择执行的本机构人员"))
        elif not Membership.objects.filter(
            user_id=performed_by_id, organization_id=device.institution.organization_id, is_active=True
        ).exists():
            errors.setdefault("performed_by_id", []).append(_("执行人须是本机构人员"))
        else:
            record.performed_by_id = performed_by_id
    else:
        errors.setdefault("performer", []).append(_("取值无效"))
    if kind in UpkeepKind.values and engineer_required(device, kind) and performer != Performer.ENGINEER:
        errors.setdefault("performer", []).append(_("光电等能量设备的检测校准须由厂家工程师进行(本机构规范)"))
    if errors:
        raise FieldErrors(errors)

    before = audit.snapshot(device)
    if result == UpkeepResult.PASS and kind == UpkeepKind.INSPECTION:
        device.last_inspection_on = max(d for d in (device.last_inspection_on, performed_on) if d)
    if result == UpkeepResult.PASS and kind == UpkeepKind.CALIBRATION:
        device.last_calibration_on = max(d for d in (device.last_calibration_on, performed_on) if d)
    dated = list(
        device.upkeep_records.order_by("-performed_on", "-pk").values_list("performed_on", "kind", "result")  # type: ignore[attr-defined]
    )
    # The new record goes before older records of the same date (it is the newer entry).
    dated = sorted([(performed_on, kind, result), *dated], key=lambda row: row[0], reverse=True)
    device.status = derived_status(device, [(k, r) for _d, k, r in dated])
    record.status_after = device.status
    record.save(force_insert=True)
    audit.record(actor, "equipment.upkeeprecord.created", record, before=None)
    apply_policy_intervals(device, today)
    device.normalize()
    after = audit.snapshot(device)
    if after != before:
        changed = [f.attname for f in device._meta.concrete_fields if f.name in audit.diff(before, after)]
        device.save(update_fields=[*changed, "updated_at"])
        audit.record(
            actor,
            "equipment.device.upkeep_applied",
            device,
            before=before,
            after=after,
            reason=f"{record.get_kind_display()} {performed_on.isoformat()}",
        )
    return record


# ---- the daily job ---------------------------------------------------------------------------------


def refresh_policy_dues(on: dt.date) -> int:
    """Devices whose interval is blank follow their institution's policy: when the policy in force changed,
    re-derive their next due dates (audited as the scheduler). Returns the devices changed."""
    blank = Q(inspection_interval_days__isnull=True, last_inspection_on__isnull=False) | Q(
        calibration_interval_days__isnull=True, last_calibration_on__isnull=False
    )
    changed = 0
    qs = Device.objects.exclude(status=DeviceStatus.RETIRED).filter(blank).select_related("institution")
    for device in qs.order_by("institution_id", "pk").iterator(chunk_size=500):
        with transaction.atomic():
            before = audit.snapshot(device)
            apply_policy_intervals(device, on)
            device.normalize()
            after = audit.snapshot(device)
            if after == before:
                continue
            device.save(update_fields=["next_inspection_due", "next_calibration_due", "updated_at"])
            audit.record(
                SCHEDULER,
                "equipment.device.upkeep_applied",
                device,
                before=before,
                after=after,
                reason="policy",
            )
            changed += 1
    return changed


def keeper_ids(organization_id: int) -> list[int]:
    return sorted(
        set(
            Membership.objects.filter(
                organization_id=organization_id, role__in=KEEPER_ROLES, is_active=True, user__is_active=True
            ).values_list("user_id", flat=True)
        )
    )


def remind_due_devices(on: dt.date) -> int:
    """Tell each institution's device keepers (采购, 机构管理员) about an inspection or calibration due within
    ``REMIND_DAYS_BEFORE`` days, and again once it is overdue — each once per device, check and due date (the
    notification dedupe key decides, so reruns and racing workers send nothing new). Returns notifications
    created."""
    from django.urls import reverse

    from meiguard.notify.messages import label
    from meiguard.notify.models import NotificationKind
    from meiguard.notify.services import send

    refresh_policy_dues(on)
    horizon = on + dt.timedelta(days=REMIND_DAYS_BEFORE)
    qs = (
        Device.objects.filter(status=DeviceStatus.ACTIVE)
        .filter(Q(next_inspection_due__lte=horizon) | Q(next_calibration_due__lte=horizon))
        .select_related("product", "institution")
        .order_by("institution_id", "pk")
    )
    keepers: dict[int, list[int]] = {}
    created = 0
    for device in qs:
        org = device.institution.organization_id
        if org not in keepers:
            keepers[org] = keeper_ids(org)
        for check, due in (
            (UpkeepKind.INSPECTION, device.next_inspection_due),
            (UpkeepKind.CALIBRATION, device.next_calibration_due),
        ):
            if due is None or due > horizon:
                continue
            late = due < on
            with transaction.atomic():
                sent = send(
                    keepers[org],
                    kind=NotificationKind.REMINDER,
                    message="equipment.upkeep_overdue" if late else "equipment.upkeep_due",
                    params={
                        "what": label(UpkeepKind(check).label),
                        "device": str(device),
                        "due": due.isoformat(),
                    },
                    url=reverse("equipment:device", args=[device.pk]),
                    dedupe_key=f"equipment:{device.pk}:{check}:{due.isoformat()}:{'overdue' if late else 'soon'}",
                )
                if sent:
                    audit.record(
                        SCHEDULER,
                        "equipment.device.reminded",
                        device,
                        changes={
                            "check": str(check),
                            "due": due.isoformat(),
                            "overdue": late,
                            "recipients": [n.recipient_id for n in sent],
                        },
                    )
            created += len(sent)
    return created
