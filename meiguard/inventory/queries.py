"""Every read of the inventory, tenant-scoped through ``visible_to``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.registry import queries as rq
from meiguard.registry.choices import LotStatus
from meiguard.registry.models import Institution, Lot

from . import policy
from .models import InventoryAlert, Receipt, ReceiptLine, StockMovement, StorageLocation, TraceCode


def institution(actor: Actor, institution_id: Any, field: str = "institution_id") -> Institution:
    return rq.visible(Institution, actor, institution_id, field=field)


def locations(actor: Actor, institution_id: int | None = None) -> QuerySet[StorageLocation]:
    qs = StorageLocation.objects.visible_to(actor)
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    return qs.order_by("institution_id", "name")


def receipts(actor: Actor, institution_id: int | None = None) -> QuerySet[Receipt]:
    qs = Receipt.objects.visible_to(actor).select_related("supplier", "institution", "received_by")
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    return qs.annotate(
        line_count=Count("lines"),
        pending=Count("lines", filter=Q(lines__status="pending")),
        rejected=Count("lines", filter=Q(lines__status="rejected")),
    ).order_by("-received_at", "-pk")


def receipt(actor: Actor, receipt_id: Any) -> Receipt:
    return rq.visible(Receipt, actor, receipt_id, field="receipt_id")


def receipt_lines(actor: Actor, receipt_id: int) -> list[ReceiptLine]:
    return list(
        ReceiptLine.objects.visible_to(actor)
        .filter(receipt_id=receipt_id)
        .select_related("product", "location", "decided_by")
        .order_by("pk")
    )


def movements(
    actor: Actor,
    *,
    institution_id: int | None = None,
    lot_id: int | None = None,
    location_id: int | None = None,
    kind: str | None = None,
) -> QuerySet[StockMovement]:
    qs = StockMovement.objects.visible_to(actor).select_related("lot__product", "location", "by")
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    if lot_id is not None:
        qs = qs.filter(lot_id=lot_id)
    if location_id is not None:
        qs = qs.filter(location_id=location_id)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-at", "-pk")


@dataclass(frozen=True, slots=True)
class StockRow:
    lot: Lot
    location: StorageLocation
    quantity: Decimal
    near_expiry: bool
    expired: bool


def stock(
    actor: Actor,
    institution_id: int,
    *,
    location_id: int | None = None,
    product_id: int | None = None,
    near_expiry_only: bool = False,
    on: dt.date | None = None,
) -> list[StockRow]:
    """Quantity on hand per (lot, location) — the sum of the ledger — with near-expiry marks (the institution
    policy's days, else 90). Three queries: the sums, the lots, the locations."""
    on = on or timezone.localdate()
    inst = institution(actor, institution_id)
    days = policy.near_expiry_days(inst.pk, on, province=inst.province)
    sums = StockMovement.objects.visible_to(actor).filter(institution_id=inst.pk)
    if location_id is not None:
        sums = sums.filter(location_id=location_id)
    if product_id is not None:
        sums = sums.filter(lot__product_id=product_id)
    if near_expiry_only:
        sums = sums.filter(lot__expiry_date__lte=on + dt.timedelta(days=days))
    totals = [
        (r["lot_id"], r["location_id"], r["total"])
        for r in sums.values("lot_id", "location_id").annotate(total=Sum("quantity")).order_by()
        if r["total"]
    ]
    lots = Lot.objects.select_related("product").in_bulk({t[0] for t in totals})
    locs = StorageLocation.objects.in_bulk({t[1] for t in totals})
    horizon = on + dt.timedelta(days=days)
    rows = [
        StockRow(
            lot=lots[lot_id],
            location=locs[loc_id],
            quantity=total,
            near_expiry=on <= lots[lot_id].expiry_date <= horizon,
            expired=lots[lot_id].expiry_date < on,
        )
        for lot_id, loc_id, total in totals
    ]
    rows.sort(key=lambda r: (r.lot.expiry_date, r.lot.pk, r.location.name))
    return rows


def fefo(actor: Actor, institution_id: int, product_id: int, *, on: dt.date | None = None) -> list[StockRow]:
    """First-expiry-first-out: the usable stock of a product, the lot to pick first on top (available, not
    expired, quantity on hand > 0)."""
    on = on or timezone.localdate()
    return [
        r
        for r in stock(actor, institution_id, product_id=product_id, on=on)
        if r.quantity > 0 and not r.expired and r.lot.status == LotStatus.AVAILABLE
    ]


def lot(actor: Actor, lot_id: Any) -> Lot:
    return rq.visible(Lot, actor, lot_id, field="lot_id")


def trace_code(actor: Actor, code: str) -> TraceCode:
    found = (
        TraceCode.objects.visible_to(actor)
        .select_related("lot__product", "location")
        .filter(code=(code or "").strip())
        .first()
    )
    if found is None:
        raise NotFoundField("code")
    return found


def alerts(actor: Actor, institution_id: int | None = None) -> QuerySet[InventoryAlert]:
    qs = InventoryAlert.objects.visible_to(actor).select_related("institution", "first_by")
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    return qs.order_by("-created_at", "-pk")


@dataclass(frozen=True, slots=True)
class ScanShare:
    month: dt.date
    usages: int
    scanned: int
    by_trace_code: int

    @property
    def share(self) -> float | None:
        return round(self.scanned / self.usages, 4) if self.usages else None


def scan_share(actor: Actor, institution_id: int, *, months: int = 12) -> list[ScanShare]:
    """Product usages per month and how many were recorded by scanning a code (the seed's target: 100 %)."""
    inst = institution(actor, institution_id)
    usage_model = apps.get_model("clinical", "Usage")
    since = (timezone.localdate().replace(day=1) - dt.timedelta(days=31 * (months - 1))).replace(day=1)
    rows = (
        usage_model.objects.visible_to(actor)
        .filter(institution_id=inst.pk, lot__isnull=False, created_at__date__gte=since)
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(
            usages=Count("pk"),
            scanned=Count("pk", filter=~Q(scanned_code="")),
            by_trace=Count("pk", filter=Q(scanned_code__regex=r"^[0-9]{20}$")),
        )
        .order_by("month")
    )
    out = []
    for r in rows:
        month = r["month"]
        if isinstance(month, dt.datetime):
            month = timezone.localtime(month).date() if timezone.is_aware(month) else month.date()
        out.append(ScanShare(month.replace(day=1), r["usages"], r["scanned"], r["by_trace"]))
    return out


def lot_for_trace_code(institution_id: int, code: str) -> tuple[int | None, str | None]:
    """(lot id, status) of a trace code received at this institution, or (None, None): one indexed query."""
    row = (
        TraceCode.objects.filter(code=code, institution_id=institution_id)
        .values_list("lot_id", "status")
        .first()
    )
    return (row[0], row[1]) if row else (None, None)
