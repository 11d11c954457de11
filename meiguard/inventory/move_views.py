"""Pages for the stock movements that were API-only: a stock count (盘点) of a location, a transfer between
locations or sites, scrap with reason, return to the supplier.

Each is a form that calls one action (``record_count`` / ``record_movement``); errors come back on the form with
their status (422 bad input, 409 not enough stock, 403), never a 500 and never a partial write. When picking a
lot the page lists the usable stock first-expiry-first-out beside the choice (``queries.fefo``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param
from meiguard.core.permissions import can
from meiguard.registry.models import Institution

from . import actions, queries
from .choices import MovementKind
from .views import _institutions, _messages, _status

KINDS: dict[str, Any] = {
    "transfer": gettext_lazy("调拨(库位或院区之间)"),
    MovementKind.SCRAP: gettext_lazy("报废"),
    MovementKind.SUPPLIER_RETURN: gettext_lazy("退回供应商"),
}
FEFO_ROWS = 12


def _keeper_institution(request: HttpRequest) -> tuple[list[Institution], Institution]:
    actor = _actor(request)
    found = [i for i in _institutions(request) if can(actor, "inventory.move", i)]
    if not found:
        raise PermissionDenied(_("只有机构管理员、采购和授权专员可以登记库存变动"))
    wanted = int_param(request, "institution")
    return found, next((i for i in found if i.pk == wanted), found[0])


@login_required
def moves(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found, inst = _keeper_institution(request)
    recent = list(
        queries.movements(actor, institution_id=inst.pk).filter(
            kind__in=(
                MovementKind.ADJUSTMENT,
                MovementKind.TRANSFER_OUT,
                MovementKind.SCRAP,
                MovementKind.SUPPLIER_RETURN,
            )
        )[:30]
    )
    done = request.GET.get("done") or ""
    adjusted = int_param(request, "adjusted") or 0
    if done == "count":
        notice = _("盘点已登记,产生 %(n)s 条盘点调整。") % {"n": adjusted}
    elif done in KINDS:
        notice = _("已登记:%(kind)s。") % {"kind": KINDS[done]}
    else:
        notice = ""
    ctx = {
        "institutions": found,
        "institution": inst,
        "kinds": KINDS.items(),
        "recent": recent,
        "notice": notice,
    }
    return render(request, "inventory/moves.html", ctx)


def _parse_pick(raw: str) -> tuple[int | None, int | None]:
    lot, _sep, loc = (raw or "").partition(":")
    ok = lot.isdigit() and loc.isdigit() and len(lot) < 12 and len(loc) < 12
    return (int(lot), int(loc)) if ok else (None, None)


@login_required
def move_form(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in KINDS:
        raise Http404
    actor = _actor(request)
    found, inst = _keeper_institution(request)
    product_id = int_param(request, "product")
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        lot_id, location_id = _parse_pick(request.POST.get("pick", ""))
        to_raw = (request.POST.get("to_location_id") or "").strip()
        codes = [c.strip() for c in (request.POST.get("trace_codes") or "").split() if c.strip()]
        if lot_id is None or location_id is None:
            errors, status = [_("请选择批次与库位")], 422
        else:
            try:
                actions.record_movement(
                    actor,
                    kind=kind,
                    lot_id=lot_id,
                    location_id=location_id,
                    quantity=(request.POST.get("quantity") or "").strip(),  # type: ignore[arg-type]
                    reason=request.POST.get("reason", ""),
                    to_location_id=int(to_raw) if to_raw.isdigit() and len(to_raw) < 12 else None,
                    trace_codes=codes[:1000],
                )
            except (ActionError, NotFoundField) as exc:
                errors, status = _messages(exc), _status(exc)
                if isinstance(exc, NotFoundField):
                    status = 422
            else:
                return redirect(reverse("inventory:moves") + f"?institution={inst.pk}&done={kind}")
    stock = [r for r in queries.stock(actor, inst.pk, product_id=product_id) if r.quantity > 0]
    # First-expiry-first-out: the usable stock (available, not expired) by expiry; the first of each product
    # is the one to pick.
    usable = [r for r in stock if not r.expired and r.lot.status == "available"]
    first_of: set[int] = set()
    fefo = []
    for r in usable[:FEFO_ROWS]:
        fefo.append((r, r.lot.product_id not in first_of))
        first_of.add(r.lot.product_id)
    products = {r.lot.product_id: r.lot.product for r in queries.stock(actor, inst.pk) if r.quantity > 0}
    targets = [
        loc
        for i in found
        for loc in queries.locations(actor, i.pk)
        if loc.is_active and can(actor, "inventory.move", i)
    ]
    ctx = {
        "institutions": found,
        "institution": inst,
        "kind": kind,
        "kind_label": KINDS[kind],
        "stock": [(r, f"{r.lot.pk}:{r.location.pk}") for r in stock],
        "fefo": fefo,
        "products": sorted(products.values(), key=lambda p: (p.generic_name, p.brand_name)),
        "product_id": product_id,
        "targets": targets,
        "errors": errors,
        "v": request.POST,
    }
    return render(request, "inventory/move_form.html", ctx, status=status)


@login_required
def count_form(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found, inst = _keeper_institution(request)
    locations = [loc for loc in queries.locations(actor, inst.pk) if loc.is_active]
    location_id = int_param(request, "location")
    location = next((loc for loc in locations if loc.pk == location_id), None)
    rows = queries.stock(actor, inst.pk, location_id=location.pk) if location else []
    errors: list[str] = []
    status = 200
    if request.method == "POST" and location is not None:
        counts: list[dict[str, Any]] = []
        filled: list[queries.StockRow] = []
        for r in rows:
            raw = (request.POST.get(f"counted_{r.lot.pk}") or "").strip()
            if raw:
                counts.append({"lot_id": r.lot.pk, "counted": raw})
                filled.append(r)
        try:
            count = actions.record_count(
                actor, location_id=location.pk, counts=counts, reason=request.POST.get("reason", "")
            )
        except (ActionError, NotFoundField) as exc:
            errors, status = _count_messages(exc, filled), _status(exc)
        else:
            changed = sum(1 for line in count.lines if Decimal(line["counted"]) != Decimal(line["expected"]))
            url = reverse("inventory:moves") + f"?institution={inst.pk}&done=count&adjusted={changed}"
            return redirect(url)
    ctx = {
        "institutions": found,
        "institution": inst,
        "locations": locations,
        "location": location,
        "rows": rows,
        "lines": [(r, request.POST.get(f"counted_{r.lot.pk}", "")) for r in rows],
        "errors": errors,
        "v": request.POST,
    }
    return render(request, "inventory/count_form.html", ctx, status=status)


def _count_messages(exc: Exception, rows: list[queries.StockRow]) -> list[str]:
    """Errors of a count, a lot's error naming the lot (``counts[i]`` is the i-th filled row)."""
    errors = getattr(exc, "errors", None)
    if not errors:
        return _messages(exc)
    out = []
    for name, msgs in errors.items():
        index = name.removeprefix("counts[").split("]", 1)[0]
        if name == "reason":
            out += [_("差异原因:%(m)s") % {"m": m} for m in msgs]
        elif name.startswith("counts[") and index.isdigit() and int(index) < len(rows):
            lot = rows[int(index)].lot
            out += [_("批号 %(lot)s:%(m)s") % {"lot": lot.lot_no, "m": m} for m in msgs]
        else:
            out += [str(m) for m in msgs]
    return out
