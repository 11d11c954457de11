"""High-risk drugs (issue 13 part 4): the locked cabinet, two-person issue (双人双锁) and the daily reconciliation.

Which products: those whose registry category is botulinum toxin type A, managed as a toxic drug (DD-01,
国食药监办〔2008〕405号). The registry's generic ``Product.high_risk`` flag also covers hyaluronic acid fillers
(devices that need no locked cabinet), so it is not used here; narcotics/psychotropics (PR-09) have no registry
category yet and would be added to ``HIGH_RISK_DRUG_CATEGORIES``.

- Their stock sits only in locations of kind *high-risk locked cabinet*: a receipt line, a transfer or a return
  into another kind of location is refused (citing DD-01).
- Issuing from the cabinet is a request by one keeper and a confirmation by a second, different keeper; the
  issue movement is written only on confirmation, once (the request row is locked and its status changes by a
  conditional update).
- The daily reconciliation compares, per institution and product, usage recorded in cases that day with the
  issue movements that day and records the closing balance; a difference raises an ``InventoryAlert`` (kind
  reconciliation) and a notice to the compliance officers, once per day and product.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Case as When_
from django.db.models import DecimalField, F, Q, Sum, Value, When
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.registry.models import Institution, Product, add_years
from meiguard.rules.sources import cites, source_text

from . import actions
from .choices import (
    ALERT_FALLBACK_ROLES,
    ALERT_ROLES,
    HIGH_RISK_DRUG_CATEGORIES,
    REGISTER_KEEP_YEARS_AFTER_EXPIRY,
    AlertKind,
    IssueStatus,
    LocationKind,
    MovementKind,
)
from .models import InventoryAlert, IssueRequest, Reconciliation, StockMovement, StorageLocation

SCHEDULER = Actor.system("scheduler")
# The sources the pages and messages name (the sources register, readable).
CABINET_SOURCES = ("toxin-notice-2008", "toxic-drug-regulation")
REGISTER_SOURCES = ("toxin-notice-2008", "toxic-drug-regulation", "narcotics-regulation")
MAX_PURPOSE = 200


def source(*ids: str) -> str:
    return source_text(cites(*ids), translation.get_language())


def is_high_risk(product: Product) -> bool:
    return product.category in HIGH_RISK_DRUG_CATEGORIES


def location_refusal(product: Product, location: StorageLocation) -> str | None:
    """Why this product may not be stored at this location, or None (DD-01: a locked dedicated cabinet)."""
    if not is_high_risk(product) or location.kind == LocationKind.HIGH_RISK:
        return None
    return _(
        "%(product)s 按毒性药品管理,只能存放在“高风险药品专柜(双人双锁)”类型的库位,不能放入“%(location)s”。"
        "依据:%(source)s"
    ) % {"product": product.generic_name, "location": location.name, "source": source(*CABINET_SOURCES)}


def register_keep_until(expiry: dt.date) -> dt.date:
    """The register and its issue records are kept at least 5 years after the lot's expiry (PR-09)."""
    return add_years(expiry, REGISTER_KEEP_YEARS_AFTER_EXPIRY)


# ---- two-person issue -----------------------------------------------------------------------------


@transaction.atomic
def request_issue(
    actor: Actor,
    *,
    lot_id: int,
    location_id: int,
    quantity: Any,
    purpose: str,
    case_id: int | None = None,
) -> IssueRequest:
    """The first keeper asks to issue high-risk stock from the cabinet (to a case or for a session)."""
    lot = actions._lot(actor, lot_id)
    errors: dict[str, list[str]] = {}
    if not is_high_risk(lot.product):
        errors["lot_id"] = [_("该批次不是高风险药品,无需双人出库")]
    amount = actions._quantity(quantity, "quantity", errors)
    purpose = actions._text(purpose, "purpose", MAX_PURPOSE, errors, required=True)
    case = None
    if case_id is not None:
        model = apps.get_model("clinical", "Case")
        case = model.objects.visible_to(actor).filter(pk=case_id, institution_id=lot.institution_id).first()
        if case is None:
            errors["case_id"] = [_("病例不存在或无权访问")]
    actions._raise(errors)
    location = actions._location(actor, location_id, lot.institution_id, "location_id")
    if location.kind != LocationKind.HIGH_RISK:
        raise FieldErrors({"location_id": [_("双人出库只能从高风险药品专柜出库")]})
    available = actions.on_hand(lot.pk, location.pk)
    if available < amount:
        raise ActionError(
            "INSUFFICIENT_STOCK",
            _("库存不足:该库位现有 %(n)s") % {"n": available.normalize()},
            field="quantity",
            status=409,
        )
    if actor.user_id is None:
        raise ActionError("FORBIDDEN", _("双人出库须由具名人员申请"), status=403)
    req = IssueRequest.objects.create(
        institution_id=lot.institution_id,
        lot=lot,
        location=location,
        quantity=amount,
        case=case,
        purpose=purpose,
        requested_by_id=actor.user_id,
        requested_at=timezone.now(),
    )
    audit.record(
        actor,
        "inventory.issue.requested",
        req,
        before={},
        changes={"lot": lot.pk, "location": location.pk, "quantity": str(amount), "case": case_id},
    )
    return req


def _open_request(actor: Actor, request_id: int) -> IssueRequest:
    req = (
        IssueRequest.objects.writable_by(actor).select_for_update(of=("self",)).filter(pk=request_id).first()
    )
    if req is None:
        if IssueRequest.objects.visible_to(actor).filter(pk=request_id).exists():
            raise ActionError("FORBIDDEN", _("无权确认或取消高风险药品出库"), status=403)
        raise Http404
    if req.status != IssueStatus.REQUESTED:
        raise ActionError(
            "ISSUE_NOT_OPEN",
            _("该出库申请已%(status)s,不能再确认或取消") % {"status": req.get_status_display()},
            status=409,
        )
    return req


@transaction.atomic
def confirm_issue(actor: Actor, request_id: int) -> IssueRequest:
    """The second keeper confirms: the issue movement is written now, once. The same person twice is refused."""
    req = _open_request(actor, request_id)
    if req.requested_by_id == actor.user_id:
        raise ActionError(
            "SAME_PERSON",
            _("双人双锁:复核确认须由另一名有权限的人员完成,申请人不能自己确认。依据:%(source)s")
            % {"source": source(*CABINET_SOURCES)},
            status=409,
        )
    now = timezone.now()
    taken = IssueRequest.objects.filter(pk=req.pk, status=IssueStatus.REQUESTED).update(
        status=IssueStatus.CONFIRMED, confirmed_by_id=actor.user_id, confirmed_at=now
    )
    if not taken:  # another confirmation won (the row lock makes this rare; kept as the last guard)
        raise ActionError("ISSUE_NOT_OPEN", _("该出库申请已被确认"), status=409)
    movement = actions._post(
        actor,
        institution_id=req.institution_id,
        lot=req.lot,
        location_id=req.location_id,
        kind=MovementKind.ISSUE,
        quantity=-req.quantity,
        reason=_("双人出库 #%(n)s:%(purpose)s") % {"n": req.pk, "purpose": req.purpose},
    )
    IssueRequest.objects.filter(pk=req.pk).update(movement=movement)
    req.refresh_from_db()
    audit.record(
        actor,
        "inventory.issue.confirmed",
        req,
        changes={
            "status": IssueStatus.CONFIRMED,
            "movement": movement.pk,
            "requested_by": req.requested_by_id,
        },
    )
    return req


@transaction.atomic
def cancel_issue(actor: Actor, request_id: int, *, reason: str) -> IssueRequest:
    """An unconfirmed request is withdrawn (by either keeper) with a reason; nothing moves."""
    errors: dict[str, list[str]] = {}
    reason = actions._text(reason, "reason", 500, errors, required=True)
    actions._raise(errors)
    req = _open_request(actor, request_id)
    IssueRequest.objects.filter(pk=req.pk).update(
        status=IssueStatus.CANCELLED, cancelled_by_id=actor.user_id, cancel_reason=reason
    )
    req.refresh_from_db()
    audit.record(
        actor, "inventory.issue.cancelled", req, changes={"status": IssueStatus.CANCELLED}, reason=reason
    )
    return req


# ---- daily reconciliation -------------------------------------------------------------------------


def _day_bounds(on: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(on, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(on + dt.timedelta(days=1), dt.time.min))


def alert_code(on: dt.date, product_id: int) -> str:
    """The alert's key: one per institution, day and product (fits the alert's 20-character code)."""
    return f"R{on:%Y%m%d}-{product_id}"


def _figures(on: dt.date, institution_ids: Iterable[int] | None) -> dict[tuple[int, int], list[Decimal]]:
    """(institution, product) → [used, issued, on_hand] for the day, in three aggregate queries whatever the
    number of usages or movements. Usage is counted in the lot's stock unit: its dose when recorded in that
    unit, else one package per usage (a unit scanned by trace code)."""
    start, end = _day_bounds(on)
    usage = apps.get_model("clinical", "Usage")
    hr = Q(lot__product__category__in=HIGH_RISK_DRUG_CATEGORIES)
    scope = Q() if institution_ids is None else Q(institution_id__in=list(institution_ids))
    zero = Decimal(0)
    out: dict[tuple[int, int], list[Decimal]] = {}

    def row(inst: int, product: int) -> list[Decimal]:
        return out.setdefault((inst, product), [zero, zero, zero])

    per_usage = When_(
        When(dose_unit=F("lot__unit"), dose_value__isnull=False, then=F("dose_value")),
        default=Value(Decimal(1)),
        output_field=DecimalField(max_digits=14, decimal_places=3),
    )
    used = (
        usage.objects.filter(hr, scope, created_at__gte=start, created_at__lt=end)
        .values_list("institution_id", "lot__product_id")
        .annotate(n=Sum(per_usage))
        .order_by()
    )
    for inst, product, n in used:
        row(inst, product)[0] = n or zero
    issued = (
        StockMovement.objects.filter(
            hr, scope, at__gte=start, at__lt=end, kind__in=(MovementKind.ISSUE, MovementKind.RETURN)
        )
        .values_list("institution_id", "lot__product_id")
        .annotate(n=Sum("quantity"))
        .order_by()
    )
    for inst, product, n in issued:
        row(inst, product)[1] = -(n or zero)
    balance = (
        StockMovement.objects.filter(hr, scope, at__lt=end)
        .values_list("institution_id", "lot__product_id")
        .annotate(n=Sum("quantity"))
        .order_by()
    )
    for inst, product, n in balance:
        if n or (inst, product) in out:
            row(inst, product)[2] = n or zero
    return out


def reconcile(
    on: dt.date, *, institution_ids: Iterable[int] | None = None, actor: Actor = SCHEDULER
) -> dict[str, int]:
    """Reconcile every (institution, high-risk product) with usage, movements or stock on ``on``.

    A fixed number of queries for the figures and the upsert (the volume of usage does not matter); each new
    discrepancy then costs its alert, audit entry and notice. Run again the same day, the figures are
    recomputed and an alert is never raised twice."""
    ids = None if institution_ids is None else sorted(set(institution_ids))
    figures = _figures(on, ids)
    if not figures:
        return {"reconciled": 0, "discrepancies": 0, "alerts": 0}
    now = timezone.now()
    rows = [
        Reconciliation(
            institution_id=inst,
            product_id=product,
            day=on,
            used=used,
            issued=issued,
            on_hand=balance,
            matched=used == issued and balance >= 0,
            ran_at=now,
        )
        for (inst, product), (used, issued, balance) in sorted(figures.items())
    ]
    with transaction.atomic():
        Reconciliation.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["institution", "product", "day"],
            update_fields=["used", "issued", "on_hand", "matched", "ran_at"],
        )
    pending = [r for r in rows if not r.matched]
    raised = 0
    if pending:
        stored = {
            (r.institution_id, r.product_id): r
            for r in Reconciliation.objects.filter(
                day=on,
                matched=False,
                alert__isnull=True,
                institution_id__in={r.institution_id for r in pending},
            )
        }
        names = dict(
            Product.objects.filter(pk__in={r.product_id for r in pending}).values_list("pk", "generic_name")
        )
        orgs = dict(
            Institution.objects.filter(pk__in={r.institution_id for r in pending}).values_list(
                "pk", "organization_id"
            )
        )
        for r in pending:
            rec = stored.get((r.institution_id, r.product_id))
            if rec is not None:
                raised += _raise_discrepancy(
                    actor, rec, names.get(r.product_id, ""), orgs.get(r.institution_id)
                )
    return {"reconciled": len(rows), "discrepancies": len(pending), "alerts": raised}


def _raise_discrepancy(actor: Actor, rec: Reconciliation, product_name: str, org_id: int | None) -> int:
    from meiguard.notify.models import NotificationKind
    from meiguard.notify.services import send, users_with_roles

    code = alert_code(rec.day, rec.product_id)
    try:
        with transaction.atomic():
            alert = InventoryAlert.objects.create(
                institution_id=rec.institution_id, kind=AlertKind.RECONCILIATION, code=code
            )
            Reconciliation.objects.filter(pk=rec.pk).update(alert=alert)
            audit.record(
                actor,
                "inventory.reconciliation.discrepancy",
                rec,
                before={},
                changes={"used": str(rec.used), "issued": str(rec.issued), "on_hand": str(rec.on_hand)},
                organization_id=org_id,
            )
            people = users_with_roles(org_id, ALERT_ROLES) or users_with_roles(org_id, ALERT_FALLBACK_ROLES)
            send(
                people,
                kind=NotificationKind.INVENTORY,
                message="inventory.reconciliation_discrepancy",
                params={
                    "product": product_name,
                    "day": rec.day.isoformat(),
                    "used": actions._plain(rec.used),
                    "issued": actions._plain(rec.issued),
                    "on_hand": actions._plain(rec.on_hand),
                },
                url=f"/inventory/high-risk/?institution={rec.institution_id}&day={rec.day.isoformat()}",
                dedupe_key=f"inventory-reconciliation:{rec.institution_id}:{code}",
            )
    except IntegrityError:  # a concurrent run raised it first
        return 0
    return 1


@transaction.atomic
def run_reconciliation(actor: Actor, *, institution_id: int, on: dt.date) -> dict[str, int]:
    """A keeper runs the day's reconciliation for one institution now (the daily job does every institution)."""
    inst = actions._institution(actor, institution_id)
    if on > timezone.localdate():
        raise FieldErrors({"day": [_("不能对未来日期对账")]})
    result = reconcile(on, institution_ids=[inst.pk], actor=actor)
    audit.record(actor, "inventory.reconciliation.run", inst, changes={"day": on.isoformat(), **result})
    return result
