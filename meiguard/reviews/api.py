"""Review campaigns over HTTP (mounted at /api/v1/reviews). Same actions as the pages, same errors envelope."""

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorOut, FilterIn, In

from . import actions, queries, reports
from .choices import CampaignKind, CampaignStatus, FindingAction, Severity
from .models import Campaign, ChecklistItem, Finding
from .periods import parse

router = Router(tags=["reviews"])


class CampaignIn(In):
    institution_id: int = Field(..., ge=1)
    period: str = Field(
        ..., min_length=7, max_length=7, pattern=r"^\d{4}-Q[1-4]$", description="季度,如 2026-Q4"
    )
    kind: CampaignKind = CampaignKind.ASSOCIATION
    build: bool = Field(True, description="发起后立即按数据生成检查清单")


class CampaignOut(Schema):
    id: int
    institution_id: int
    institution: str
    kind: str
    period: str
    starts_on: dt.date
    ends_on: dt.date
    status: str
    created_by: str | None
    built_at: dt.datetime | None
    closed_at: dt.datetime | None
    summary: str
    close_note: str
    counts: dict[str, int]

    @staticmethod
    def of(c: Campaign) -> "CampaignOut":
        return CampaignOut(
            id=c.pk,
            institution_id=c.institution_id,
            institution=c.institution.name,
            kind=c.kind,
            period=c.period,
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            status=c.status,
            created_by=str(c.created_by) if c.created_by_id else None,
            built_at=c.built_at,
            closed_at=c.closed_at,
            summary=c.summary,
            close_note=c.close_note,
            counts=queries.counts(c),
        )


class CampaignRowOut(Schema):
    id: int
    institution_id: int
    institution: str = Field(..., alias="institution.name")
    kind: str
    period: str
    starts_on: dt.date
    ends_on: dt.date
    status: str
    open_findings: int
    item_count: int


class CampaignFilter(FilterIn):
    institution_id: int | None = Field(None, ge=1)
    period: str | None = Field(None, pattern=r"^\d{4}-Q[1-4]$")
    status: CampaignStatus | None = None
    kind: CampaignKind | None = None


class ItemOut(Schema):
    id: int
    key: str
    category: str
    title: str
    detail: str
    month: int | None
    practitioner_id: int | None
    authorization_id: int | None
    qualification_id: int | None
    procedure_code: str
    decision_ids: list[int]
    evidence: dict[str, Any]
    evidence_count: int
    source: str
    institution_practice: bool
    is_current: bool
    status: str
    note: str


class FindingIn(In):
    description: str = Field(..., min_length=1, max_length=4000)
    severity: Severity = Severity.MEDIUM
    item_id: int | None = Field(None, ge=1)
    practitioner_id: int | None = Field(None, ge=1)
    authorization_id: int | None = Field(None, ge=1)
    action: FindingAction | None = None
    due_date: dt.date | None = None


class FindingOut(Schema):
    id: int
    campaign_id: int
    item_id: int | None
    practitioner_id: int | None
    authorization_id: int | None
    severity: str
    description: str
    action: str
    action_at: dt.datetime | None
    due_date: dt.date | None
    status: str
    closing_note: str
    closed_at: dt.datetime | None
    created_at: dt.datetime


class ActionIn(In):
    action: FindingAction
    due_date: dt.date | None = None


class NoteIn(In):
    note: str = Field(..., min_length=1, max_length=4000)


class ItemOkIn(In):
    note: str = Field("", max_length=4000)


class CloseIn(In):
    summary: str = Field("", max_length=4000)
    note: str = Field("", max_length=4000, description="仍有未关闭问题时必填")


class RebuildOut(Schema):
    created: int
    updated: int
    unchanged: int
    removed: int
    kept_stale: int
    campaign: CampaignOut


def _actor(request: HttpRequest) -> Any:
    return request.actor  # type: ignore[attr-defined]


@router.get("/campaigns", response=list[CampaignRowOut], summary="定期审查列表 / Campaigns")
@paginate(Pagination)
def list_campaigns(request: HttpRequest, filters: Query[CampaignFilter]) -> Any:
    f = filters
    quarter = parse(f.period or "")
    return queries.campaigns(
        _actor(request),
        queries.CampaignFilters(
            institution_id=f.institution_id,
            period=quarter.label if quarter else "",
            status=str(f.status or ""),
            kind=str(f.kind or ""),
        ),
    )


@router.post(
    "/campaigns",
    response={201: CampaignOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="发起审查 / Open a campaign",
)
def create_campaign(request: HttpRequest, payload: CampaignIn) -> tuple[int, CampaignOut]:
    """One per institution, quarter and kind. Association campaigns: auditors of an overseeing body;
    internal campaigns: the institution's admins and compliance officers."""
    campaign = actions.create_campaign(
        _actor(request),
        institution_id=payload.institution_id,
        period=payload.period,
        kind=str(payload.kind),
        build=payload.build,
    )
    return 201, CampaignOut.of(campaign)


@router.get("/campaigns/{campaign_id}", response={200: CampaignOut, 404: ErrorOut}, summary="审查详情")
def get_campaign(request: HttpRequest, campaign_id: int) -> CampaignOut:
    return CampaignOut.of(queries.campaign(_actor(request), campaign_id))


@router.get(
    "/campaigns/{campaign_id}/items", response={200: list[ItemOut], 404: ErrorOut}, summary="检查清单"
)
def list_items(request: HttpRequest, campaign_id: int) -> list[ChecklistItem]:
    return list(queries.items(queries.campaign(_actor(request), campaign_id)))


@router.get(
    "/campaigns/{campaign_id}/findings", response={200: list[FindingOut], 404: ErrorOut}, summary="审查问题"
)
def list_findings(request: HttpRequest, campaign_id: int) -> list[Finding]:
    return list(queries.findings(queries.campaign(_actor(request), campaign_id)))


@router.post(
    "/campaigns/{campaign_id}/rebuild",
    response={200: RebuildOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="按数据重新生成检查清单(幂等)",
)
def rebuild(request: HttpRequest, campaign_id: int) -> RebuildOut:
    r = actions.rebuild_checklist(_actor(request), campaign_id)
    return RebuildOut(
        created=r.created,
        updated=r.updated,
        unchanged=r.unchanged,
        removed=r.removed,
        kept_stale=r.kept_stale,
        campaign=CampaignOut.of(queries.campaign(_actor(request), campaign_id)),
    )


@router.post(
    "/campaigns/{campaign_id}/close",
    response={200: CampaignOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="结束审查(有未关闭问题时须填写说明)",
)
def close_campaign(request: HttpRequest, campaign_id: int, payload: CloseIn) -> CampaignOut:
    actions.close_campaign(_actor(request), campaign_id, summary=payload.summary, note=payload.note)
    return CampaignOut.of(queries.campaign(_actor(request), campaign_id))


@router.post(
    "/items/{item_id}/ok",
    response={200: ItemOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="检查项标记为合格",
)
def item_ok(request: HttpRequest, item_id: int, payload: ItemOkIn) -> ChecklistItem:
    return actions.mark_item_ok(_actor(request), item_id, note=payload.note)


@router.post(
    "/campaigns/{campaign_id}/findings",
    response={201: FindingOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="登记问题(可同时采取措施)",
)
def create_finding(request: HttpRequest, campaign_id: int, payload: FindingIn) -> tuple[int, Finding]:
    finding = actions.raise_finding(
        _actor(request),
        campaign_id,
        description=payload.description,
        severity=str(payload.severity),
        item_id=payload.item_id,
        practitioner_id=payload.practitioner_id,
        authorization_id=payload.authorization_id,
        action=str(payload.action) if payload.action else None,
        due_date=payload.due_date,
    )
    return 201, finding


@router.post(
    "/findings/{finding_id}/action",
    response={200: FindingOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="处理措施:warn / retrain / suspend(暂停授权,核验立即拒绝)",
)
def finding_action(request: HttpRequest, finding_id: int, payload: ActionIn) -> Finding:
    return actions.record_action(
        _actor(request), finding_id, action=str(payload.action), due_date=payload.due_date
    )


@router.post(
    "/findings/{finding_id}/close",
    response={200: FindingOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="关闭问题",
)
def close_finding(request: HttpRequest, finding_id: int, payload: NoteIn) -> Finding:
    return actions.close_finding(_actor(request), finding_id, note=payload.note)


@router.get(
    "/campaigns/{campaign_id}/report.pdf", response={200: None, 404: ErrorOut}, summary="审查报告 PDF"
)
def report_pdf(request: HttpRequest, campaign_id: int) -> HttpResponse:
    actor = _actor(request)
    campaign = queries.campaign(actor, campaign_id)
    return reports.attachment(
        reports.render_pdf(actor, campaign_id), "application/pdf", reports.filename(campaign, "pdf")
    )


@router.get(
    "/campaigns/{campaign_id}/report.xlsx", response={200: None, 404: ErrorOut}, summary="审查报告 Excel"
)
def report_xlsx(request: HttpRequest, campaign_id: int) -> HttpResponse:
    actor = _actor(request)
    campaign = queries.campaign(actor, campaign_id)
    return reports.attachment(
        reports.render_xlsx(actor, campaign_id), reports.XLSX, reports.filename(campaign, "xlsx")
    )
