"""Expiring items and scheduled runs over HTTP (mounted at /api/v1/lifecycle)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from meiguard.core.access import Actor
from meiguard.core.errors import FieldErrors
from meiguard.core.schemas import ErrorOut, FilterIn

from . import queries
from .choices import THRESHOLDS, ItemKind, JobStatus

router = Router(tags=["lifecycle"])


class ExpiringFilter(FilterIn):
    on: dt.date | None = Field(None, description="统计日期(默认今天,Asia/Shanghai)")
    within_days: int = Field(
        90, ge=0, le=queries.MAX_WITHIN_DAYS, description="到期日在 [on, on+within_days] 内"
    )
    kind: ItemKind | None = Field(None, description="类型")
    bucket: int | None = Field(None, description="提醒档:7/30/60/90")
    institution_id: int | None = Field(None, ge=1)
    practitioner_id: int | None = Field(None, ge=1)


class ExpiringItemOut(Schema):
    kind: str
    kind_label: str
    label: str
    holder: str
    object_id: int
    institution_id: int | None
    institution_name: str
    practitioner_id: int | None
    expires_on: dt.date
    days_left: int
    bucket: int | None
    url: str


class JobRunOut(Schema):
    id: int
    job: str
    run_date: dt.date
    attempt: int
    forced: bool
    status: JobStatus
    enqueued_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    counts: dict[str, Any] | None = Field(None, description="仅平台管理员可见")


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined,no-any-return]


@router.get(
    "/expiring",
    response={200: list[ExpiringItemOut], 422: ErrorOut},
    summary="即将到期 / Expiring items",
)
def list_expiring(request: HttpRequest, filters: Query[ExpiringFilter]) -> Any:
    f = filters
    if f.bucket is not None and f.bucket not in THRESHOLDS:
        raise FieldErrors({"bucket": [_("提醒档只能是 7、30、60 或 90")]})
    items = queries.expiring(
        _actor(request),
        on=f.on or timezone.localdate(),
        within_days=f.within_days,
        institution_id=f.institution_id,
        practitioner_id=f.practitioner_id,
    )
    return queries.filter_items(items, kind=f.kind or "", bucket=f.bucket)


@router.get("/runs", response=list[JobRunOut], summary="定时任务运行记录 / Scheduled job runs")
def list_runs(request: HttpRequest, limit: int = Query(20, ge=1, le=200)) -> Any:  # type: ignore[type-arg]
    show_counts = _actor(request).is_unrestricted
    return [
        JobRunOut(
            id=r.pk,
            job=r.job,
            run_date=r.run_date,
            attempt=r.attempt,
            forced=r.forced,
            status=JobStatus(r.status),
            enqueued_at=r.enqueued_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            counts=r.counts if show_counts else None,
        )
        for r in queries.recent_runs(limit)
    ]
