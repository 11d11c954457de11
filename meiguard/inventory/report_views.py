"""Inventory report pages (issue 13 part 7): usage, stock on hand, reconciliation history, alerts.

Each page: filters (institution, month range, product…), an inline-SVG chart, the table, and ``?format=xlsx``
for the same rows as an Excel workbook (``workspace.listing``, capped at ``MAX_EXPORT_ROWS`` with a notes
sheet). Who may read them is one permission (``inventory.reports``); closing an alert is ``inventory.move``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from meiguard.core.errors import ActionError
from meiguard.core.excel import MAX_EXPORT_ROWS
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param
from meiguard.core.permissions import can
from meiguard.registry.models import Institution, Product
from meiguard.workspace.listing import XLSX_TYPE, Column, Listing

from . import actions, permissions, queries, reports
from .choices import AlertKind

PAGE_SIZE = 50


def _institution(request: HttpRequest) -> tuple[list[Institution], Institution]:
    found = permissions.report_institutions(_actor(request))
    if not found:
        raise PermissionDenied(_("只有机构管理员、采购、授权专员、医务科和监督机构审计员可以查看库存报表"))
    wanted = int_param(request, "institution")
    return found, next((i for i in found if i.pk == wanted), found[0])


def _products(actor: Any, inst: Institution) -> list[Product]:
    """Products with a lot at the institution (the product filter)."""
    return list(
        Product.objects.visible_to(actor)
        .filter(lots__institution_id=inst.pk)
        .distinct()
        .order_by("generic_name", "brand_name")[:500]
    )


def _export(
    listing: Listing, rows: Any, request: HttpRequest, filters: list[tuple[str, str]]
) -> HttpResponse:
    data, _n, _cut = listing.workbook_bytes(rows, who=str(request.user), filters=filters)
    response = HttpResponse(data, content_type=XLSX_TYPE)
    response["Content-Disposition"] = (
        f'attachment; filename="{listing.name}-{timezone.localdate():%Y%m%d}.xlsx"'
    )
    response["Cache-Control"] = "no-store"
    return response


def _filters(request: HttpRequest) -> list[tuple[str, str]]:
    return [(k, v) for k, vs in request.GET.lists() if k not in ("page", "format") for v in vs if v][:20]


def _export_url(request: HttpRequest) -> str:
    q = request.GET.copy()
    q.pop("page", None)
    q["format"] = "xlsx"
    return "?" + q.urlencode()


def _base(request: HttpRequest, tab: str) -> dict[str, Any]:
    actor = _actor(request)
    found, inst = _institution(request)
    p = reports.period(request.GET.get("from"), request.GET.get("to"))
    product_id = int_param(request, "product")
    return {
        "actor": actor,
        "institutions": found,
        "institution": inst,
        "period": p,
        "product_id": product_id,
        "products": _products(actor, inst),
        "tab": tab,
        "export_url": _export_url(request),
        "max_export_rows": MAX_EXPORT_ROWS,
    }


def _page(request: HttpRequest, rows: Any) -> Any:
    q = request.GET.copy()
    q.pop("page", None)
    q.pop("format", None)
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")), q.urlencode()


# ---- usage ---------------------------------------------------------------------------------------

USAGE_TITLES = {
    "product": gettext_lazy("按产品"),
    "lot": gettext_lazy("按批次"),
    "doctor": gettext_lazy("按医师"),
    "month": gettext_lazy("按月份"),
}


def _usage_listing(by: str) -> Listing:
    first: tuple[Column, ...]
    if by == "lot":
        first = (
            Column("product", gettext_lazy("产品"), reports._product),
            Column("lot", gettext_lazy("批号"), lambda r: r["lot__lot_no"]),
            Column("expiry", gettext_lazy("失效日期"), lambda r: r["lot__expiry_date"]),
        )
    elif by == "doctor":
        first = (Column("doctor", gettext_lazy("主诊/手术医师"), lambda r: reports.usage_label("doctor", r)),)
    elif by == "month":
        first = (Column("month", gettext_lazy("月份"), lambda r: reports.usage_label("month", r)),)
    else:
        first = (Column("product", gettext_lazy("产品"), reports._product, width=30),)
    return Listing(
        f"inventory-usage-{by}",
        gettext_lazy("产品使用报表"),
        (
            *first,
            Column("usages", gettext_lazy("使用次数"), lambda r: r["usages"]),
            Column("scanned", gettext_lazy("扫码记录"), lambda r: r["scanned"]),
            Column("share", gettext_lazy("扫码率"), reports.scan_share),
            Column("cases", gettext_lazy("病例数"), lambda r: r["cases"]),
            Column("clients", gettext_lazy("求美者人数"), lambda r: r["clients"]),
        ),
    )


@login_required
def usage_report(request: HttpRequest) -> HttpResponse:
    ctx = _base(request, "usage")
    by = request.GET.get("by") or "product"
    by = by if by in reports.USAGE_DIMENSIONS else "product"
    rows = reports.usage_rows(
        ctx["actor"], ctx["institution"].pk, by=by, p=ctx["period"], product_id=ctx["product_id"]
    )
    listing = _usage_listing(by)
    if request.GET.get("format") == "xlsx":
        return _export(listing, rows, request, _filters(request))
    all_rows = list(rows[: reports.MAX_MONTHS + reports.CHART_TOP]) if by == "month" else None
    chart_rows = all_rows if all_rows is not None else list(rows[: reports.CHART_TOP])
    title = _("产品使用 · %(by)s · %(period)s") % {"by": USAGE_TITLES[by], "period": ctx["period"].label}
    page, querystring = _page(request, rows)
    for r in page.object_list:
        r["label"] = reports.usage_label(by, r)
        r["share"] = reports.scan_share(r)
    q = request.GET.copy()
    q.pop("page", None)
    q.pop("format", None)
    tabs = []
    for key in reports.USAGE_DIMENSIONS:
        q["by"] = key
        tabs.append((key, USAGE_TITLES[key], "?" + q.urlencode()))
    ctx.update(
        by=by,
        by_tabs=tabs,
        chart=reports.usage_chart(by, chart_rows, ctx["period"], title),
        page=page,
        querystring=querystring,
        first_header=_usage_listing(by).columns[0].label,
    )
    return render(request, "inventory/report_usage.html", ctx)


# ---- stock on hand -------------------------------------------------------------------------------

STOCK_LISTING = Listing(
    "inventory-stock",
    gettext_lazy("库存现存量"),
    (
        Column("location", gettext_lazy("库位"), lambda r: r.location.name),
        Column(
            "product",
            gettext_lazy("产品"),
            lambda r: r.lot.product.brand_name or r.lot.product.generic_name,
            width=26,
        ),
        Column("lot", gettext_lazy("批号"), lambda r: r.lot.lot_no),
        Column("expiry", gettext_lazy("失效日期"), lambda r: r.lot.expiry_date),
        Column("quantity", gettext_lazy("数量"), lambda r: r.quantity),
        Column("unit", gettext_lazy("单位"), lambda r: r.lot.get_unit_display()),
        Column(
            "mark",
            gettext_lazy("效期提示"),
            lambda r: _("已过期") if r.expired else (_("近效期") if r.near_expiry else ""),
        ),
        Column("status", gettext_lazy("批次状态"), lambda r: r.lot.get_status_display()),
    ),
)


@login_required
def stock_report(request: HttpRequest) -> HttpResponse:
    ctx = _base(request, "stock")
    actor, inst = ctx["actor"], ctx["institution"]
    location_id = int_param(request, "location")
    near = request.GET.get("near") == "1"
    rows = [
        r
        for r in queries.stock(
            actor, inst.pk, location_id=location_id, product_id=ctx["product_id"], near_expiry_only=near
        )
        if r.quantity
    ]
    rows.sort(key=lambda r: (r.location.name, r.lot.expiry_date, r.lot.pk))
    if request.GET.get("format") == "xlsx":
        return _export(STOCK_LISTING, rows, request, _filters(request))
    per_location = reports.stock_by_location(rows)
    ctx.update(
        rows=rows,
        location_id=location_id,
        near=near,
        locations=list(queries.locations(actor, inst.pk)),
        per_location=per_location,
        chart=reports.stock_chart(per_location, _("各库位在库批次与效期提示")),
        near_count=sum(1 for r in rows if r.near_expiry),
        expired_count=sum(1 for r in rows if r.expired),
    )
    return render(request, "inventory/report_stock.html", ctx)


# ---- reconciliation history ----------------------------------------------------------------------


def _resolution(alert: Any) -> str:
    if alert is None:
        return ""
    if alert.resolved_at is None:
        return _("待处理")
    return alert.resolution


RECON_LISTING = Listing(
    "inventory-reconciliations",
    gettext_lazy("高风险药品对账记录"),
    (
        Column("day", gettext_lazy("对账日期"), lambda r: r.day),
        Column(
            "product",
            gettext_lazy("产品"),
            lambda r: r.product.brand_name or r.product.generic_name,
            width=24,
        ),
        Column("used", gettext_lazy("病例使用量"), lambda r: r.used),
        Column("issued", gettext_lazy("出库量"), lambda r: r.issued),
        Column("on_hand", gettext_lazy("日终结存"), lambda r: r.on_hand),
        Column("matched", gettext_lazy("账物相符"), lambda r: r.matched),
        Column("resolution", gettext_lazy("处理结果"), lambda r: _resolution(r.alert), width=36),
        Column("resolved_at", gettext_lazy("处理时间"), lambda r: r.alert.resolved_at if r.alert else None),
    ),
)


@login_required
def reconciliation_report(request: HttpRequest) -> HttpResponse:
    ctx = _base(request, "reconciliations")
    actor, inst = ctx["actor"], ctx["institution"]
    only = request.GET.get("discrepancies") == "1"
    rows = reports.reconciliations(
        actor, inst.pk, p=ctx["period"], product_id=ctx["product_id"], only_discrepancies=only
    )
    if request.GET.get("format") == "xlsx":
        return _export(RECON_LISTING, rows, request, _filters(request))
    page, querystring = _page(request, rows)
    ctx.update(
        only=only,
        page=page,
        querystring=querystring,
        chart=reports.reconciliation_chart(
            actor, inst.pk, ctx["period"], ctx["product_id"], _("每月对账天数:相符与不符")
        ),
        can_move=can(actor, "inventory.move", inst),
    )
    return render(request, "inventory/report_reconciliations.html", ctx)


# ---- alerts --------------------------------------------------------------------------------------

ALERT_LISTING = Listing(
    "inventory-alerts",
    gettext_lazy("假冒/串货与对账预警"),
    (
        Column("created_at", gettext_lazy("首次发现"), lambda a: a.created_at),
        Column("kind", gettext_lazy("类型"), lambda a: a.get_kind_display()),
        Column(
            "code", gettext_lazy("追溯码"), lambda a: a.code if a.kind != AlertKind.RECONCILIATION else ""
        ),
        Column("times", gettext_lazy("扫码次数"), lambda a: a.times),
        Column("last_seen_at", gettext_lazy("最近一次"), lambda a: a.last_seen_at),
        Column("status", gettext_lazy("状态"), lambda a: _("待处理") if a.is_open else _("已处理")),
        Column("resolution", gettext_lazy("处理结果"), lambda a: a.resolution, width=36),
        Column("resolved_at", gettext_lazy("处理时间"), lambda a: a.resolved_at),
    ),
)
ALERT_KIND_FILTERS = (
    ("counterfeit", gettext_lazy("假冒/串货(追溯码)")),
    (AlertKind.RECONCILIATION, gettext_lazy("对账不符")),
)
ALERT_STATUS_FILTERS = (("open", gettext_lazy("待处理")), ("resolved", gettext_lazy("已处理")))


def _alerts_page(request: HttpRequest, *, errors: list[str] | None = None, status: int = 200) -> HttpResponse:
    ctx = _base(request, "alerts")
    actor, inst = ctx["actor"], ctx["institution"]
    kind = request.GET.get("kind") or ""
    state = request.GET.get("status") or ""
    rows = reports.alert_rows(actor, inst.pk, p=ctx["period"], kind=kind, status=state)
    if request.GET.get("format") == "xlsx":
        return _export(ALERT_LISTING, rows, request, _filters(request))
    page, querystring = _page(request, rows)
    ctx.update(
        kind=kind,
        state=state,
        kinds=ALERT_KIND_FILTERS,
        states=ALERT_STATUS_FILTERS,
        page=page,
        querystring=querystring,
        chart=reports.alert_chart(actor, inst.pk, ctx["period"], _("每月新增预警")),
        can_move=can(actor, "inventory.move", inst),
        errors=errors or [],
    )
    return render(request, "inventory/report_alerts.html", ctx, status=status)


@login_required
def alert_report(request: HttpRequest) -> HttpResponse:
    return _alerts_page(request)


@login_required
@require_POST
def alert_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    try:
        alert = actions.resolve_alert(actor, pk, resolution=request.POST.get("resolution", ""))
    except ActionError as exc:
        messages = [str(m) for msgs in getattr(exc, "errors", {}).values() for m in msgs] or [
            str(exc.message)
        ]
        return _alerts_page(
            request, errors=[_("处理结果:%(m)s") % {"m": m} for m in messages], status=exc.status
        )
    url = reverse("inventory:report_alerts") + f"?institution={alert.institution_id}"
    return redirect(url + f"#alert-{alert.pk}")
