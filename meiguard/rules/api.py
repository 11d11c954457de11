"""Rule packs over JSON: packs and versions, a version's rules and procedures, diffs, resolution.

Mounted at /api/v1/rules. Any signed-in user (session or bearer token) may read rule packs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema
from pydantic import BaseModel

from meiguard.core.apierrors import NotFoundField
from meiguard.core.params import actor
from meiguard.core.schemas import ErrorOut, FilterIn, In

from . import impact, institution, queries, services
from .choices import Invasiveness, RuleKind, Subject
from .models import Rule, RulePack, RulePackVersion
from .services import Procedure, RuleRef, RuleSnapshot
from .sources import citation_from_json, source_text

router = Router(tags=["rules"])


class CitationOut(BaseModel):
    """One document a rule rests on, from the sources register."""

    document: str
    kind: str
    kind_label: str
    title: str
    issuer: str
    number: str
    issued: str
    article: str
    url: str
    text: str


class RuleRefOut(BaseModel):
    """Which rule produced a result: its pack and layer, and the documents it cites."""

    pack: str
    version: int
    rule_id: str
    layer: str
    pack_label: str
    source: str
    citations: list[CitationOut]

    @staticmethod
    def of(ref: RuleRef) -> RuleRefOut:
        return RuleRefOut(**ref.as_dict())


class VersionOut(Schema):
    pack: str
    version: int
    status: str
    effective_from: dt.date | None
    published_at: dt.datetime | None
    source_doc: str
    rule_count: int

    @staticmethod
    def of(v: RulePackVersion, rule_count: int | None = None) -> VersionOut:
        count = rule_count if rule_count is not None else getattr(v, "rule_count", None)
        return VersionOut(
            pack=v.pack.code,
            version=v.version,
            status=v.status,
            effective_from=v.effective_from,
            published_at=v.published_at,
            source_doc=v.source_doc,
            rule_count=count if count is not None else v.rules.count(),
        )


class PackOut(Schema):
    code: str
    name: str
    name_en: str
    jurisdiction: str
    province: str
    extends: str | None
    versions: list[VersionOut]

    @staticmethod
    def of(p: RulePack) -> PackOut:
        return PackOut(
            code=p.code,
            name=p.name,
            name_en=p.name_en,
            jurisdiction=p.jurisdiction,
            province=p.province,
            extends=p.extends.code if p.extends else None,
            versions=[VersionOut.of(v) for v in p.versions.all()],
        )


class RuleOut(Schema):
    rule_id: str
    kind: str
    op: str
    title: str
    title_en: str
    source: str
    level: str
    adjustable: bool | None
    confirmed: bool | None
    note: str
    data: dict[str, Any]
    citations: list[CitationOut]

    @staticmethod
    def of(r: Rule) -> RuleOut:
        citations = [citation_from_json(c) for c in r.citations or ()]
        return RuleOut(
            rule_id=r.rule_id,
            kind=r.kind,
            op=r.op,
            title=r.title,
            title_en=r.title_en,
            source=source_text(citations, translation.get_language()) if citations else r.source,
            level=r.level,
            adjustable=r.adjustable,
            confirmed=r.confirmed,
            note=r.note,
            data=r.data,
            citations=[CitationOut(**c.as_dict()) for c in citations],
        )


class VersionDetailOut(VersionOut):
    description: str
    rules: list[RuleOut]


class ProcedureOut(Schema):
    code: str
    subject: str
    category: str
    name_zh: str
    name_en: str
    grade: int | None
    invasiveness: str
    anesthesia_max: str | None
    confirmed: bool
    catalog_status: str
    rule: RuleRefOut

    @staticmethod
    def of(p: Procedure) -> ProcedureOut:
        return ProcedureOut(
            code=p.code,
            subject=p.subject,
            category=p.category,
            name_zh=p.name_zh,
            name_en=p.name_en,
            grade=p.grade,
            invasiveness=p.invasiveness,
            anesthesia_max=p.anesthesia_max,
            confirmed=p.confirmed,
            catalog_status=p.catalog_status,
            rule=RuleRefOut.of(p.rule),
        )


class ProcedureFilters(FilterIn):
    subject: Subject | None = None
    grade: int | None = Field(None, ge=0, le=4, description="1–4; 0 = ungraded items")
    invasive: Invasiveness | None = None
    q: str = Field("", max_length=100)


class ProcedureListOut(Schema):
    pack: str
    version: int
    count: int
    procedures: list[ProcedureOut]


class FieldChangeOut(Schema):
    field: str
    before: Any
    after: Any


class RuleSnapshotOut(Schema):
    rule_id: str
    kind: str
    op: str
    title: str
    title_en: str
    source: str
    fields: dict[str, Any]

    @staticmethod
    def of(s: RuleSnapshot) -> RuleSnapshotOut:
        return RuleSnapshotOut(
            rule_id=s.rule_id,
            kind=s.kind,
            op=s.op,
            title=s.title,
            title_en=s.title_en,
            source=s.source,
            fields=dict(s.fields),
        )


class RuleChangeOut(Schema):
    rule_id: str
    before: RuleSnapshotOut
    after: RuleSnapshotOut
    changes: list[FieldChangeOut]


class DiffOut(Schema):
    a: str
    b: str
    added: list[RuleSnapshotOut]
    removed: list[RuleSnapshotOut]
    changed: list[RuleChangeOut]


class DiffQuery(FilterIn):
    a: int = Field(..., ge=1, description="older version number")
    b: int = Field(..., ge=1, description="newer version number")


class ResolveQuery(FilterIn):
    province: str = Field("", max_length=16)
    on: dt.date


class ResolvedOut(Schema):
    province: str
    on: dt.date
    version_label: str
    national: str
    overlay: str | None
    procedure_count: int
    rules: list[dict[str, Any]]
    warnings: list[str]


@router.get("/packs", response=list[PackOut], summary="规则包及版本 / Rule packs and versions")
def list_packs(request: HttpRequest) -> list[PackOut]:
    return [PackOut.of(p) for p in queries.packs_with_versions()]


@router.get(
    "/packs/{code}/versions/{version}", response=VersionDetailOut, summary="版本的规则 / A version's rules"
)
def version_detail(
    request: HttpRequest, code: str, version: int, kind: RuleKind | None = None
) -> VersionDetailOut:
    v = queries.get_version(code, version, actor(request))
    rules = queries.version_rules(v, kind=kind)
    base = VersionOut.of(v, rule_count=v.rules.count())
    return VersionDetailOut(**base.dict(), description=v.description, rules=[RuleOut.of(r) for r in rules])


@router.get(
    "/packs/{code}/versions/{version}/procedures",
    response=ProcedureListOut,
    summary="版本的项目目录 / A version's procedure catalog",
)
def version_procedures(
    request: HttpRequest, code: str, version: int, filters: Query[ProcedureFilters]
) -> ProcedureListOut:
    v = queries.get_version(code, version, actor(request))
    flt = queries.ProcedureFilter(
        subject=filters.subject, grade=filters.grade, invasive=filters.invasive, q=filters.q
    )
    procs = queries.version_procedures(v, flt)
    return ProcedureListOut(
        pack=v.pack.code, version=v.version, count=len(procs), procedures=[ProcedureOut.of(p) for p in procs]
    )


@router.get("/packs/{code}/diff", response=DiffOut, summary="两个版本的差异 / Diff between two versions")
def version_diff(request: HttpRequest, code: str, params: Query[DiffQuery]) -> DiffOut:
    a = queries.get_version(code, params.a, actor(request))
    b = queries.get_version(code, params.b, actor(request))
    d = services.diff_versions(a, b)
    return DiffOut(
        a=d.a,
        b=d.b,
        added=[RuleSnapshotOut.of(s) for s in d.added],
        removed=[RuleSnapshotOut.of(s) for s in d.removed],
        changed=[
            RuleChangeOut(
                rule_id=c.rule_id,
                before=RuleSnapshotOut.of(c.before),
                after=RuleSnapshotOut.of(c.after),
                changes=[FieldChangeOut(field=f.field, before=f.before, after=f.after) for f in c.changes],
            )
            for c in d.changed
        ],
    )


@router.get("/resolve", response=ResolvedOut, summary="某省某日生效的规则 / Rules in force")
def resolve(request: HttpRequest, params: Query[ResolveQuery]) -> ResolvedOut:
    pack = services.resolve(params.province, params.on)  # NoActivePack -> 409
    return ResolvedOut(
        province=pack.province,
        on=params.on,
        version_label=pack.version_label,
        national=pack.national.label,
        overlay=pack.overlay.label if pack.overlay else None,
        procedure_count=len(pack.procedures),
        rules=[
            {
                "rule_id": r.rule_id,
                "kind": r.kind,
                "title": r.display_title,
                "level": r.level,
                "adjustable": r.adjustable,
                "confirmed": r.confirmed,
                "data": services.thaw(r.data),
                "rule": RuleRefOut.of(r.ref).dict(),
            }
            for r in pack.rules.values()
            if r.kind != RuleKind.PROCEDURE
        ],
        warnings=list(pack.warnings),
    )


# ---- rule-change impact (规则变更影响评估) --------------------------------------------------------


class ImpactQuery(FilterIn):
    on: dt.date | None = Field(None, description="评估日期(默认今天)/ assess as if in force on this day")
    institution_id: int | None = Field(None, ge=1)
    direction: impact.Direction | None = None
    format: Literal["json", "xlsx"] = "json"
    limit: int = Field(500, ge=1, le=5000)
    offset: int = Field(0, ge=0)
    refresh: bool = Field(False, description="重新计算,不用缓存 / recompute")


class ReasonChangeOut(Schema):
    code: str
    severity: str
    message: str
    rule: RuleRefOut
    facts: dict[str, str]

    @staticmethod
    def of(r: Any) -> ReasonChangeOut:
        return ReasonChangeOut(
            code=r.code,
            severity=str(r.severity),
            message=impact.reason_text(r),
            rule=RuleRefOut.of(r.rule),
            facts=dict(r.facts),
        )


class ProductUseOut(Schema):
    lot_id: int
    dose_value: str | None
    dose_unit: str | None
    minutes: int | None


class ImpactRowOut(Schema):
    institution_id: int
    institution_name: str
    province: str
    practitioner_id: int
    practitioner_name: str
    procedure_code: str
    procedure_name: str
    authorization_ids: list[int]
    sources: list[str]
    supervisor_id: int | None
    products: list[ProductUseOut]
    device_ids: list[int]
    items: str
    asked: int
    before: str
    after: str
    direction: str
    added: list[ReasonChangeOut]
    removed: list[ReasonChangeOut]

    @staticmethod
    def of(r: impact.ImpactRow) -> ImpactRowOut:
        return ImpactRowOut(
            institution_id=r.institution_id,
            institution_name=r.institution_name,
            province=r.province,
            practitioner_id=r.practitioner_id,
            practitioner_name=r.practitioner_name,
            procedure_code=r.procedure_code,
            procedure_name=r.procedure_name,
            authorization_ids=list(r.authorization_ids),
            sources=list(r.sources),
            supervisor_id=r.supervisor_id,
            products=[
                ProductUseOut(
                    lot_id=u.lot_id,
                    dose_value=str(u.dose_value) if u.dose_value is not None else None,
                    dose_unit=u.dose_unit,
                    minutes=u.minutes,
                )
                for u in r.products
            ],
            device_ids=list(r.device_ids),
            items=r.items,
            asked=r.asked,
            before=r.before,
            after=r.after,
            direction=r.direction,
            added=[ReasonChangeOut.of(x) for x in r.added],
            removed=[ReasonChangeOut.of(x) for x in r.removed],
        )


class InstitutionImpactOut(Schema):
    institution_id: int
    name: str
    province: str
    questions: int
    changed: int
    counts: dict[str, int]


class ComparisonOut(Schema):
    province: str
    before: str
    after: str


class ImpactOut(Schema):
    version_id: int
    version: str
    status: str
    effective_from: dt.date | None
    province: str
    on: dt.date
    lookback_days: int
    computed_at: dt.datetime
    questions: int
    totals: dict[str, int]
    comparisons: list[ComparisonOut]
    notes: list[str]
    institutions: list[InstitutionImpactOut]
    count: int
    limit: int
    offset: int
    rows: list[ImpactRowOut]


@router.get(
    "/versions/{version_id}/impact",
    response={200: ImpactOut, 403: ErrorOut, 404: ErrorOut},
    summary="规则变更影响评估 / Rule-change impact",
    description=(
        "Decisions that change (allow ↔ deny, warnings) if this version is in force on `on`. "
        "Institution admins, compliance officers, medical directors and auditors see their own "
        "institutions; platform admins all. `format=xlsx` returns the Excel workbook (sheets 汇总, 明细)."
    ),
)
def version_impact(request: HttpRequest, version_id: int, params: Query[ImpactQuery]) -> Any:
    org_ids = impact.viewer_org_ids(actor(request))  # type: ignore[attr-defined]  # 403 for other roles
    version = impact.get_version(version_id, actor(request))  # 404
    report = impact.report_for(version, on=params.on, refresh=params.refresh).restricted_to(org_ids)
    rows = report.select(
        institution_id=params.institution_id, direction=params.direction.value if params.direction else ""
    )
    if params.format == "xlsx":
        response = HttpResponse(
            impact.workbook(report, rows),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{impact.xlsx_filename(report)}"'
        return response
    return ImpactOut(
        version_id=report.version_id,
        version=report.version_label,
        status=report.version_status,
        effective_from=report.effective_from,
        province=report.province,
        on=report.on,
        lookback_days=report.lookback_days,
        computed_at=report.computed_at,
        questions=report.questions,
        totals=report.totals(),
        comparisons=[
            ComparisonOut(province=c.province, before=c.before, after=c.after) for c in report.comparisons
        ],
        notes=[n.message for n in report.notes],
        institutions=[
            InstitutionImpactOut(
                institution_id=i.institution_id,
                name=i.name,
                province=i.province,
                questions=i.questions,
                changed=i.changed,
                counts=dict(i.counts),
            )
            for i in report.institutions
        ],
        count=len(rows),
        limit=params.limit,
        offset=params.offset,
        rows=[ImpactRowOut.of(r) for r in rows[params.offset : params.offset + params.limit]],
    )


# ---- the institution layer (本机构规范) ---------------------------------------------------------------


class PolicySettingOut(Schema):
    key: str
    group: str
    label: str
    unit: str
    value: Any
    is_set: bool = Field(True, description="false:本机构尚未设定(value 为 null,没有此项限制)")
    display: str = Field("", description="给人看的值:如“2 ml”,未设定时为“未设定”")
    national_value: Any = Field(None, description="国家/省级规定的值(机构只能收紧);机构自设规则为 null")
    direction: str
    rule_id: str
    source: str


class PolicyVersionOut(Schema):
    id: int
    version: int
    status: str
    effective_from: dt.date | None
    source_doc: str


class PolicyOut(Schema):
    institution_id: int
    in_force: str = Field(description="今天生效的各层规则,如“全国基线 v1 + 本机构规范 v2”")
    layer: str = Field(description="今天生效的机构层:本机构规范或机构规范模板")
    can_edit: bool
    settings: list[PolicySettingOut]
    versions: list[PolicyVersionOut]


class PolicyDraftIn(In):
    values: dict[str, Any] = Field(default_factory=dict, max_length=len(institution.SETTINGS))
    document: str = Field("", max_length=120, description="本机构规范文件名称")
    effective_from: dt.date | None = None


class PolicyPublishIn(In):
    effective_from: dt.date


def _display(value: Any, unit: str) -> str:
    from .templatetags.rules_extras import show

    if value is None:
        return gettext("未设定")
    return f"{show(value)} {unit}".strip() if unit else show(value)


def _policy_out(request: HttpRequest, institution_id: int) -> PolicyOut:
    from meiguard.registry.models import Institution

    inst = Institution.objects.visible_to(actor(request)).filter(pk=institution_id).first()  # type: ignore[attr-defined]
    if inst is None:
        raise NotFoundField("institution_id")
    today = dt.date.today()
    pack = services.resolve(inst.province, today, inst.pk)
    base = institution.base_pack(inst.province, today)
    return PolicyOut(
        institution_id=inst.pk,
        in_force=pack.version_label,
        layer=pack.institution.display_label if pack.institution else "",
        can_edit=institution.can_edit(actor(request), inst),  # type: ignore[attr-defined]
        settings=[
            PolicySettingOut(
                key=row.setting.key,
                group=str(row.setting.group),
                label=str(row.setting.label),
                unit=row.setting.unit,
                value=row.value,
                is_set=row.value is not None,
                display=_display(row.value, row.setting.unit),
                national_value=row.base_value,
                direction=row.setting.direction,
                rule_id=row.setting.rule_id,
                source=row.source,
            )
            for row in institution.setting_rows(pack, base)
        ],
        versions=[
            PolicyVersionOut(
                id=v.pk,
                version=v.version,
                status=v.status,
                effective_from=v.effective_from,
                source_doc=v.source_doc,
            )
            for v in institution.versions(inst.pk)
        ],
    )


@router.get(
    "/institutions/{institution_id}/policy",
    response={200: PolicyOut, 404: ErrorOut},
    summary="本机构规范:设定值、版本 / An institution's policy",
)
def institution_policy(request: HttpRequest, institution_id: int) -> Any:
    return _policy_out(request, institution_id)


@router.post(
    "/institutions/{institution_id}/policy/drafts",
    response={200: PolicyVersionOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="保存本机构规范草稿 / Save a draft of the institution's policy",
)
def save_policy_draft(request: HttpRequest, institution_id: int, payload: PolicyDraftIn) -> Any:
    v = institution.save_draft(
        actor(request),  # type: ignore[attr-defined]
        institution_id,
        values=payload.values,
        document=payload.document,
        effective_from=payload.effective_from,
    )
    return PolicyVersionOut(
        id=v.pk, version=v.version, status=v.status, effective_from=v.effective_from, source_doc=v.source_doc
    )


@router.post(
    "/institutions/{institution_id}/policy/versions/{version}/publish",
    response={200: PolicyVersionOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="发布本机构规范 / Publish a version of the institution's policy",
)
def publish_policy(request: HttpRequest, institution_id: int, version: int, payload: PolicyPublishIn) -> Any:
    v = institution.publish(
        actor(request),  # type: ignore[attr-defined]
        institution_id,
        version,
        effective_from=payload.effective_from,
    )
    return PolicyVersionOut(
        id=v.pk, version=v.version, status=v.status, effective_from=v.effective_from, source_doc=v.source_doc
    )
