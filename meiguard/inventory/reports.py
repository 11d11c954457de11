"""Inventory reports (issue 13 part 7): usage by product, lot, doctor and month; stock on hand per location with
near-expiry marks; the high-risk reconciliation history; the counterfeit/diversion alerts with their status.

Reads only, tenant-scoped through ``visible_to``. Each report is one bounded ``GROUP BY`` (or one filtered
list) whatever the volume — no per-row loops — and its chart is drawn from the same rows
(``workspace.charts``: inline SVG). The pages and the Excel exports (``workspace.listing``, capped at
``MAX_EXPORT_ROWS``) share the row functions here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.apps import apps
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.core.access import Actor
from meiguard.workspace.charts import Chart, Series, bar_chart

from . import queries
from .choices import AlertKind
from .models import InventoryAlert, Reconciliation

# The usage report's groupings, in the order the page offers them.
USAGE_DIMENSIONS = ("product", "lot", "doctor", "month")
# A report covers at most this many months (the GROUP BY stays bounded; a longer look-back is several exports).
MAX_MONTHS = 36
DEFAULT_MONTHS = 12
# The chart shows the largest groups; the table and the export hold every row.
CHART_TOP = 12
COUNTERFEIT_KINDS = (AlertKind.SCANNED_AGAIN, AlertKind.NOT_RECEIVED)


@dataclass(frozen=True, slots=True)
class Period:
    start: dt.date  # first day of the first month
    end: dt.date  # first day of the last month

    @property
    def months(self) -> list[dt.date]:
        out, m = [], self.start
        while m <= self.end:
            out.append(m)
            m = _next_month(m)
        return out

    @property
    def since(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    @property
    def until(self) -> dt.datetime:
        """Exclusive: the first moment after the last month."""
        return timezone.make_aware(dt.datetime.combine(_next_month(self.end), dt.time.min))

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m} – {self.end:%Y-%m}"


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _month(raw: str | None) -> dt.date | None:
    try:
        year, month = (raw or "").strip().split("-")
        if len(year) != 4 or not 1 <= len(month) <= 2:
            return None
        return dt.date(int(year), int(month), 1)
    except ValueError:
        return None


def period(start: str | None, end: str | None, *, today: dt.date | None = None) -> Period:
    """The months asked for (``YYYY-MM``), else the last 12; swapped if reversed, cut to ``MAX_MONTHS``."""
    today = today or timezone.localdate()
    last = _month(end) or today.replace(day=1)
    first = _month(start)
    if first is None:
        first = last
        for _i in range(DEFAULT_MONTHS - 1):
            first = (first - dt.timedelta(days=1)).replace(day=1)
    if first > last:
        first, last = last, first
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    while months > MAX_MONTHS:
        first = _next_month(first)
        months -= 1
    return Period(first, last)


# ---- usage ---------------------------------------------------------------------------------------


def _usages(actor: Actor, institution_id: int, p: Period, product_id: int | None) -> QuerySet[Any]:
    usage = apps.get_model("clinical", "Usage")
    qs = usage.objects.visible_to(actor).filter(
        institution_id=institution_id, lot__isnull=False, created_at__gte=p.since, created_at__lt=p.until
    )
    if product_id is not None:
        qs = qs.filter(lot__product_id=product_id)
    return qs


_GROUPS: dict[str, tuple[str, ...]] = {
    "product": ("lot__product_id", "lot__product__generic_name", "lot__product__brand_name"),
    "lot": (
        "lot_id",
        "lot__lot_no",
        "lot__expiry_date",
        "lot__product__generic_name",
        "lot__product__brand_name",
    ),
    "doctor": ("case__operator_id", "case__operator__name"),
    "month": ("month",),
}


def usage_rows(
    actor: Actor, institution_id: int, *, by: str, p: Period, product_id: int | None = None
) -> QuerySet[Any]:
    """Product usages recorded in cases, grouped ``by`` product, lot, doctor (the case's operating doctor) or
    month: usages, how many by scanning a code, cases, clients. One ``GROUP BY`` query; rows are dicts."""
    by = by if by in USAGE_DIMENSIONS else "product"
    qs = _usages(actor, institution_id, p, product_id)
    if by == "month":
        qs = qs.annotate(month=TruncMonth("created_at"))
    rows = qs.values(*_GROUPS[by]).annotate(
        usages=Count("pk"),
        scanned=Count("pk", filter=~Q(scanned_code="")),
        cases=Count("case_id", distinct=True),
        clients=Count("client_id", distinct=True),
    )
    if by == "month":
        return rows.order_by("month")
    return rows.order_by("-usages", *_GROUPS[by][:1])


def _product(row: dict[str, Any]) -> str:
    brand, generic = row.get("lot__product__brand_name"), row.get("lot__product__generic_name")
    return f"{generic}({brand})" if brand and brand != generic else str(generic or "")


def month_of(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.replace(day=1)


def usage_label(by: str, row: dict[str, Any]) -> str:
    if by == "lot":
        return f"{_product(row)} · {row['lot__lot_no']}"
    if by == "doctor":
        return str(row.get("case__operator__name") or _("未指定医师"))
    if by == "month":
        return f"{month_of(row['month']):%Y-%m}"
    return _product(row)


def scan_share(row: dict[str, Any]) -> str:
    return f"{row['scanned'] * 100 / row['usages']:.0f}%" if row["usages"] else "—"


def usage_chart(by: str, rows: Sequence[dict[str, Any]], p: Period, title: str) -> Chart:
    """Usages and scanned usages per group (the largest ``CHART_TOP``; every month of the period by month)."""
    if by == "month":
        found = {month_of(r["month"]): r for r in rows}
        cats = [f"{m:%Y-%m}" for m in p.months]
        axis = [f"{m:%y-%m}" for m in p.months]
        usages = tuple(found[m]["usages"] if m in found else 0 for m in p.months)
        scanned = tuple(found[m]["scanned"] if m in found else 0 for m in p.months)
    else:
        top = list(rows[:CHART_TOP])
        cats = [usage_label(by, r) for r in top]
        axis = [c if len(c) <= 8 else c[:7] + "…" for c in cats]
        usages = tuple(r["usages"] for r in top)
        scanned = tuple(r["scanned"] for r in top)
    parts = "; ".join(
        _("%(name)s:使用 %(n)s 次,扫码 %(s)s 次") % {"name": c, "n": u, "s": s}
        for c, u, s in zip(cats, usages, scanned, strict=True)
    )
    summary = _("%(title)s。合计使用 %(n)s 次,其中扫码 %(s)s 次。%(parts)s") % {
        "title": title,
        "n": sum(usages),
        "s": sum(scanned),
        "parts": parts,
    }
    series = [
        Series("usages", _("使用次数"), usages, "s-count"),
        Series("scanned", _("扫码记录"), scanned, "s-scan"),
    ]
    label = {"product": _("产品"), "lot": _("批次"), "doctor": _("医师"), "month": _("月份")}[by]
    return replace(bar_chart(f"chart-usage-{by}", title, cats, axis, series, summary), category_label=label)


# ---- stock on hand ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocationStock:
    name: str
    lots: int
    near_expiry: int
    expired: int


def stock_by_location(rows: Sequence[queries.StockRow]) -> list[LocationStock]:
    """Per storage location: lots on hand, how many near expiry and how many expired (from the stock rows)."""
    found: dict[int, list[queries.StockRow]] = {}
    for r in rows:
        if r.quantity > 0:
            found.setdefault(r.location.pk, []).append(r)
    out = [
        LocationStock(
            name=held[0].location.name,
            lots=len(held),
            near_expiry=sum(1 for r in held if r.near_expiry),
            expired=sum(1 for r in held if r.expired),
        )
        for held in found.values()
    ]
    return sorted(out, key=lambda s: s.name)


def stock_chart(locations: Sequence[LocationStock], title: str) -> Chart:
    cats = [s.name for s in locations]
    axis = [c if len(c) <= 8 else c[:7] + "…" for c in cats]
    lots = tuple(s.lots for s in locations)
    marked = tuple(s.near_expiry + s.expired for s in locations)
    parts = "; ".join(
        _("%(name)s:%(n)s 个批次,其中近效期或已过期 %(m)s 个") % {"name": c, "n": n, "m": m}
        for c, n, m in zip(cats, lots, marked, strict=True)
    )
    summary = _("%(title)s。%(parts)s") % {"title": title, "parts": parts}
    series = [
        Series("lots", _("在库批次"), lots, "s-count"),
        Series("near", _("近效期或已过期"), marked, "s-deny"),
    ]
    return replace(bar_chart("chart-stock", title, cats, axis, series, summary), category_label=_("库位"))


# ---- reconciliation history ------------------------------------------------------------------------


def reconciliations(
    actor: Actor,
    institution_id: int,
    *,
    p: Period,
    product_id: int | None = None,
    only_discrepancies: bool = False,
) -> QuerySet[Reconciliation]:
    qs = (
        Reconciliation.objects.visible_to(actor)
        .filter(institution_id=institution_id, day__gte=p.start, day__lt=_next_month(p.end))
        .select_related("product", "alert__resolved_by")
    )
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    if only_discrepancies:
        qs = qs.filter(matched=False)
    return qs.order_by("-day", "product_id")


def reconciliation_chart(
    actor: Actor, institution_id: int, p: Period, product_id: int | None, title: str
) -> Chart:
    """Days reconciled per month: matched and with a discrepancy (one GROUP BY)."""
    qs = reconciliations(actor, institution_id, p=p, product_id=product_id)
    found = {
        month_of(r["month"]): r
        for r in qs.annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(ok=Count("pk", filter=Q(matched=True)), bad=Count("pk", filter=Q(matched=False)))
        .order_by("month")
    }
    months = p.months
    ok = tuple(found[m]["ok"] if m in found else 0 for m in months)
    bad = tuple(found[m]["bad"] if m in found else 0 for m in months)
    cats = [f"{m:%Y-%m}" for m in months]
    parts = "; ".join(
        _("%(month)s:相符 %(a)s,不符 %(d)s") % {"month": c, "a": a, "d": d}
        for c, a, d in zip(cats, ok, bad, strict=True)
    )
    summary = _("%(title)s。合计相符 %(a)s,不符 %(d)s。%(parts)s") % {
        "title": title,
        "a": sum(ok),
        "d": sum(bad),
        "parts": parts,
    }
    series = [
        Series("matched", _("账物相符"), ok, "s-allow"),
        Series("discrepancy", _("对账不符"), bad, "s-deny"),
    ]
    chart = bar_chart("chart-recon", title, cats, [f"{m:%y-%m}" for m in months], series, summary)
    return replace(chart, category_label=_("月份"))


# ---- alerts ----------------------------------------------------------------------------------------


ALERT_STATUSES = ("open", "resolved")


def alert_rows(
    actor: Actor, institution_id: int, *, p: Period, kind: str = "", status: str = ""
) -> QuerySet[InventoryAlert]:
    qs = (
        queries.alerts(actor, institution_id)
        .filter(created_at__gte=p.since, created_at__lt=p.until)
        .select_related("resolved_by")
    )
    if kind == "counterfeit":
        qs = qs.filter(kind__in=COUNTERFEIT_KINDS)
    elif kind in AlertKind.values:
        qs = qs.filter(kind=kind)
    if status == "open":
        qs = qs.filter(resolved_at__isnull=True)
    elif status == "resolved":
        qs = qs.filter(resolved_at__isnull=False)
    return qs


def alert_chart(actor: Actor, institution_id: int, p: Period, title: str) -> Chart:
    """Alerts raised per month: counterfeit/diversion (trace codes) and reconciliation (one GROUP BY)."""
    qs = alert_rows(actor, institution_id, p=p).order_by()
    found = {
        month_of(r["month"]): r
        for r in qs.annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(
            fake=Count("pk", filter=Q(kind__in=COUNTERFEIT_KINDS)),
            recon=Count("pk", filter=Q(kind=AlertKind.RECONCILIATION)),
        )
        .order_by("month")
    }
    months = p.months
    fake = tuple(found[m]["fake"] if m in found else 0 for m in months)
    recon = tuple(found[m]["recon"] if m in found else 0 for m in months)
    cats = [f"{m:%Y-%m}" for m in months]
    parts = "; ".join(
        _("%(month)s:假冒/串货 %(a)s,对账不符 %(d)s") % {"month": c, "a": a, "d": d}
        for c, a, d in zip(cats, fake, recon, strict=True)
    )
    summary = _("%(title)s。%(parts)s") % {"title": title, "parts": parts}
    series = [
        Series("counterfeit", _("假冒/串货预警"), fake, "s-deny"),
        Series("reconciliation", _("对账不符"), recon, "s-count"),
    ]
    chart = bar_chart("chart-alerts", title, cats, [f"{m:%y-%m}" for m in months], series, summary)
    return replace(chart, category_label=_("月份"))


# ---- the inventory section of a quarterly review (reviews app) ---------------------------------------

# Each check of the review section, in order: what it counts. Lots used after expiry or while recalled should
# be zero; every usage should be recorded by scanning (the seed's 100 %); discrepancies and alerts should be
# closed. Device upkeep is read by the reviews app from the equipment rules.
REVIEW_CHECKS = ("expired_use", "recalled_use", "not_scanned", "open_discrepancies", "open_alerts")
REVIEW_EXAMPLES = 10


def quarter_facts(institution_id: int, start: dt.date, end: dt.date) -> dict[str, dict[str, Any]]:
    """The stock and usage facts of one institution for [start, end] (China calendar days), for the review's
    checklist: per check the count and a few examples. Plain rows of ONE institution (the caller has resolved
    it through the campaign's access check); a fixed number of queries whatever the volume."""
    from django.db.models import Exists, F, OuterRef
    from django.db.models.functions import TruncDate

    from .models import RecallLot

    since = timezone.make_aware(dt.datetime.combine(start, dt.time.min))
    until = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    usage = apps.get_model("clinical", "Usage")
    base = usage.objects.filter(
        institution_id=institution_id, lot__isnull=False, created_at__gte=since, created_at__lt=until
    )
    expired = base.annotate(day=TruncDate("created_at")).filter(lot__expiry_date__lt=F("day"))
    recalled = base.filter(
        Exists(RecallLot.objects.filter(lot_id=OuterRef("lot_id"), created_at__lte=OuterRef("created_at")))
    )
    totals = base.aggregate(total=Count("pk"), not_scanned=Count("pk", filter=Q(scanned_code="")))

    def lots(qs: QuerySet[Any]) -> list[str]:
        return sorted(set(qs.values_list("lot__lot_no", flat=True)[:200]))[:REVIEW_EXAMPLES]

    open_recon = Reconciliation.objects.filter(
        institution_id=institution_id, day__gte=start, day__lte=end, matched=False
    ).filter(Q(alert__isnull=True) | Q(alert__resolved_at__isnull=True))
    open_alerts = InventoryAlert.objects.filter(
        institution_id=institution_id,
        kind__in=COUNTERFEIT_KINDS,
        resolved_at__isnull=True,
        created_at__lt=until,
    )
    return {
        "expired_use": {"count": expired.count(), "examples": lots(expired)},
        "recalled_use": {"count": recalled.count(), "examples": lots(recalled)},
        "not_scanned": {
            "count": totals["not_scanned"],
            "total": totals["total"],
            "examples": lots(base.filter(scanned_code="")),
        },
        "open_discrepancies": {
            "count": open_recon.count(),
            "examples": [f"{d:%Y-%m-%d}" for d in open_recon.values_list("day", flat=True)[:REVIEW_EXAMPLES]],
        },
        "open_alerts": {
            "count": open_alerts.count(),
            "examples": list(open_alerts.values_list("code", flat=True)[:REVIEW_EXAMPLES]),
        },
    }
