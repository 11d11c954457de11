"""The device file over HTTP (mounted at /api/v1/equipment), for an equipment-management or HIS system.

Errors use the one envelope ``{code, message, field, errors[]}``: bad input 422, a device the caller cannot
see 404, a reader without the keeper's role 403, a scrapped device 409. Lists take ``limit``/``offset``.
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from meiguard.core.access import Actor
from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorOut, FilterIn, In
from meiguard.registry.models import Device

from . import actions, queries
from .choices import Performer, UpkeepKind, UpkeepResult, UpkeepState
from .models import UpkeepRecord

router = Router(tags=["equipment"])

ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


class PolicyIntervalOut(Schema):
    days: int | None = Field(None, description="本机构规范(或模板)规定的间隔天数")
    rule_id: str = ""
    source: str = Field("", description="依据:可读出处")


class DeviceUpkeepOut(Schema):
    id: int
    institution_id: int
    name: str
    serial_no: str
    status: str
    upkeep_state: UpkeepState
    last_inspection_on: dt.date | None
    next_inspection_due: dt.date | None
    last_calibration_on: dt.date | None
    next_calibration_due: dt.date | None
    inspection_interval_days: int | None = Field(None, description="设备自身的间隔;为空时按本机构规范")
    calibration_interval_days: int | None

    @staticmethod
    def resolve_name(obj: Device) -> str:
        return str(obj)

    @staticmethod
    def resolve_upkeep_state(obj: Device) -> str:
        return queries.upkeep_state(obj, timezone.localdate())


class DeviceFileOut(DeviceUpkeepOut):
    energy_device: bool
    policy_inspection: PolicyIntervalOut
    policy_calibration: PolicyIntervalOut


class UpkeepRecordOut(Schema):
    id: int
    device_id: int
    kind: UpkeepKind
    performed_on: dt.date
    result: str
    performer: Performer
    performed_by_id: int | None
    engineer_name: str
    engineer_company: str
    engineer_certificate_no: str
    findings: str
    status_after: str
    recorded_by_id: int | None
    created_at: dt.datetime


class UpkeepDeviceFilters(FilterIn):
    institution_id: int | None = Field(None, ge=1)
    state: UpkeepState | None = None
    q: str | None = Field(None, max_length=64)


class UpkeepRecordIn(In):
    kind: UpkeepKind
    performed_on: dt.date
    result: UpkeepResult | None = Field(None, description="报废不填;其余必填")
    performer: Performer = Performer.STAFF
    performed_by_id: int | None = Field(None, ge=1, description="本机构人员(performer=staff)")
    engineer_name: str = Field("", max_length=64)
    engineer_company: str = Field("", max_length=128)
    engineer_certificate_no: str = Field("", max_length=64)
    findings: str = Field("", max_length=4000, description="发现的问题/处理情况;不合格或报废时必填")


def _policy(interval: Any) -> dict[str, Any]:
    rule = interval.rule
    return {
        "days": interval.days,
        "rule_id": rule.rule_id if rule else "",
        "source": f"{rule.pack_label} · {rule.source_text}" if rule else "",
    }


@router.get("/devices", response=list[DeviceUpkeepOut], summary="设备维护状态列表")
@paginate(Pagination)
def list_devices(request: HttpRequest, filters: Query[UpkeepDeviceFilters]) -> Any:
    return queries.devices(_actor(request), on=timezone.localdate(), **filters.dict())


@router.get("/devices/{device_id}", response={200: DeviceFileOut, **ERRORS}, summary="设备档案")
def get_device(request: HttpRequest, device_id: int) -> Any:
    device = queries.device(_actor(request), device_id)
    iv = queries.intervals(device, timezone.localdate())
    device.energy_device = actions.is_energy_device(device)  # type: ignore[attr-defined]
    device.policy_inspection = _policy(iv.policy_inspection)  # type: ignore[attr-defined]
    device.policy_calibration = _policy(iv.policy_calibration)  # type: ignore[attr-defined]
    return device


@router.get(
    "/devices/{device_id}/records", response={200: list[UpkeepRecordOut], **ERRORS}, summary="设备维护记录"
)
@paginate(Pagination)
def list_records(request: HttpRequest, device_id: int) -> Any:
    device = queries.device(_actor(request), device_id)
    return queries.records(_actor(request), device_id=device.pk)


@router.post(
    "/devices/{device_id}/records", response={201: UpkeepRecordOut, **ERRORS}, summary="录入设备维护记录"
)
def create_record(request: HttpRequest, device_id: int, payload: UpkeepRecordIn) -> Any:
    data = payload.dict()
    data["result"] = data["result"] or ""
    return 201, actions.record_upkeep(_actor(request), device_id, **data)


@router.get("/records/{record_id}", response={200: UpkeepRecordOut, **ERRORS}, summary="维护记录详情")
def get_record(request: HttpRequest, record_id: int) -> UpkeepRecord:
    return queries.record(_actor(request), record_id)
