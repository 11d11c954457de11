"""Recalls (DD-09): a notice names a product's lots; recalling them blocks them everywhere at once, quarantines
their stock, lists the clients who received them and tells each institution's compliance officers once.

Every write here is atomic, tenancy-checked and audited, like ``actions``. The stock moves through the ledger
(``actions._post``): quarantine is a transfer to the institution's quarantine location (``召回隔离区``, created on
demand), a return to the supplier a ``supplier_return`` movement out of it, a destruction a ``scrap``.

The lot's status changes by ``Lot.save``, so the decision snapshots are invalidated on commit by the same signal
as every other lot change (authz/signals.py): the next check is denied (``LOT_RECALLED``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.registry import queries as rq
from meiguard.registry.choices import LotStatus, RecallLevel
from meiguard.registry.models import Institution, Lot, Product

from . import actions
from .choices import (
    ALERT_FALLBACK_ROLES,
    ALERT_ROLES,
    MAX_RECALL_LOTS,
    QUARANTINE_LOCATION_NAME,
    RECALL_CONTACT_ROLES,
    RECALL_DAYS,
    STOCK_ROLES,
    ClockState,
    LocationKind,
    MovementKind,
    RecallDisposal,
    RecallSource,
    TraceCodeStatus,
)
from .models import RecallLot, RecallNotice, StockMovement, StorageLocation, TraceCode

# ---- the clock ------------------------------------------------------------------------------------


def due_on(level: int, issued_on: dt.date) -> dt.date:
    """The day by which the users must have been told (1 / 3 / 7 days after the recall decision, DD-09)."""
    return issued_on + dt.timedelta(days=RECALL_DAYS[level])


def clock_state(due: dt.date, completed_at: dt.datetime | None, today: dt.date) -> str:
    if completed_at is not None:
        return ClockState.DONE if timezone.localdate(completed_at) <= due else ClockState.DONE_LATE
    return ClockState.OVERDUE if today > due else ClockState.OPEN


# ---- reading --------------------------------------------------------------------------------------


def notices(actor: Actor, institution_id: int | None = None) -> QuerySet[RecallNotice]:
    qs = RecallNotice.objects.visible_to(actor).select_related("product", "institution")
    if institution_id is not None:
        qs = qs.filter(
            Q(institution_id=institution_id) | Q(recall_lots__institution_id=institution_id)
        ).distinct()
    return qs.order_by("-received_at", "-pk")


def listed(actor: Actor, institution_id: int | None = None) -> QuerySet[RecallNotice]:
    """The list: each notice with its open lots and last completion among the lots the actor may see (one
    query; ``list_state`` turns them into the clock state)."""
    seen = Q()
    if not actor.is_unrestricted:
        seen = Q(recall_lots__institution__organization__in=actor.readable_org_ids)
    if institution_id is not None:
        seen &= Q(recall_lots__institution_id=institution_id)
    return notices(actor, institution_id).annotate(
        open_lots=Count(
            "recall_lots", filter=seen & Q(recall_lots__completed_at__isnull=True), distinct=True
        ),
        seen_lots=Count("recall_lots", filter=seen, distinct=True),
        last_done=Max("recall_lots__completed_at", filter=seen),
    )


def list_state(n: Any, today: dt.date) -> str:
    if n.open_lots or not n.seen_lots:
        return clock_state(n.due_on, None, today)
    return clock_state(n.due_on, n.last_done, today)


def notice(actor: Actor, pk: int, field: str = "notice_id") -> RecallNotice:
    try:
        return notices(actor).get(pk=pk)
    except RecallNotice.DoesNotExist:
        raise NotFoundField(field) from None


def recall_lots(actor: Actor, notice_obj: RecallNotice) -> list[RecallLot]:
    """The notice's lots the actor may see: another institution's part of a shared notice stays hidden."""
    return list(
        RecallLot.objects.visible_to(actor)
        .filter(notice=notice_obj)
        .select_related("lot", "institution", "quarantine", "completed_by")
        .order_by("institution__name", "lot__lot_no", "pk")
    )


def may_see_contacts(actor: Actor, organization_id: int) -> bool:
    """Contact details of affected clients: the institution's compliance officers and 医务科 only."""
    return organization_id in actor.org_ids_with_roles(RECALL_CONTACT_ROLES)


@dataclass(frozen=True, slots=True)
class AffectedClient:
    institution_id: int
    client_id: int
    name: str
    phone: str
    lot_no: str
    case_code: str
    used_at: dt.datetime


def affected_clients(actor: Actor, rows: Iterable[RecallLot]) -> list[AffectedClient]:
    """The clients who received the recalled lots (from clinical usage), with contacts: only for the lots of
    institutions where the actor is a compliance officer or 医务科 (one query)."""
    from meiguard.clinical.models import Usage

    lot_ids = [r.lot_id for r in rows if may_see_contacts(actor, r.institution.organization_id)]
    if not lot_ids:
        return []
    found = (
        Usage.objects.filter(lot_id__in=lot_ids)
        .order_by("client__name", "client_id", "created_at", "pk")
        .values_list(
            "institution_id",
            "client_id",
            "client__name",
            "client__phone",
            "lot__lot_no",
            "case__code",
            "created_at",
        )
    )
    return [AffectedClient(*r) for r in found]


def client_counts(lot_ids: Iterable[int]) -> dict[int, int]:
    """Distinct clients who received each lot (counts only: what the supplier and the regulator see)."""
    from meiguard.clinical.models import Usage

    ids = list(lot_ids)
    if not ids:
        return {}
    rows = Usage.objects.filter(lot_id__in=ids).values("lot_id").annotate(n=Count("client_id", distinct=True))
    return {r["lot_id"]: r["n"] for r in rows}


@dataclass
class InstitutionPart:
    """One institution's part of a notice (the report's row)."""

    institution: Institution
    lots: list[RecallLot] = field(default_factory=list)
    clients: int = 0
    quarantined: Decimal = Decimal(0)
    returned: Decimal = Decimal(0)
    destroyed: Decimal = Decimal(0)
    completed_at: dt.datetime | None = None
    state: str = ClockState.OPEN

    @property
    def in_quarantine(self) -> Decimal:
        return self.quarantined - self.returned - self.destroyed

    @property
    def state_label(self) -> str:
        return str(ClockState(self.state).label)

    @property
    def lot_nos(self) -> str:
        return ", ".join(r.lot.lot_no for r in self.lots)


def parts(
    notice_obj: RecallNotice, rows: list[RecallLot], today: dt.date | None = None
) -> list[InstitutionPart]:
    from meiguard.clinical.models import Usage

    today = today or timezone.localdate()
    by_inst: dict[int, InstitutionPart] = {}
    for r in rows:
        part = by_inst.setdefault(r.institution_id, InstitutionPart(r.institution))
        part.lots.append(r)
        part.quarantined += r.quarantined
        part.returned += r.returned
        part.destroyed += r.destroyed
    lot_ids = [r.lot_id for r in rows]
    clients = (
        Usage.objects.filter(lot_id__in=lot_ids)
        .values("institution_id")
        .annotate(n=Count("client_id", distinct=True))
        if lot_ids
        else []
    )
    for c in clients:
        if c["institution_id"] in by_inst:
            by_inst[c["institution_id"]].clients = c["n"]
    for part in by_inst.values():
        done = [r.completed_at for r in part.lots]
        part.completed_at = max(d for d in done if d) if all(done) else None  # type: ignore[type-var]
        part.state = clock_state(notice_obj.due_on, part.completed_at, today)
    return list(by_inst.values())


def overall_state(notice_obj: RecallNotice, the_parts: list[InstitutionPart], today: dt.date) -> str:
    if the_parts and all(p.completed_at for p in the_parts):
        last = max(p.completed_at for p in the_parts if p.completed_at)
        return clock_state(notice_obj.due_on, last, today)
    return clock_state(notice_obj.due_on, None, today)


# ---- recording a notice ---------------------------------------------------------------------------


def _clean(actor: Actor, data: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    level = data.get("level")
    if level not in RecallLevel.values:
        errors["level"] = [_("召回级别须为 1、2 或 3 级")]
    source = data.get("source")
    if source not in RecallSource.values:
        errors["source"] = [_("未知的召回来源")]
    reason = actions._text(data.get("reason"), "reason", 500, errors, required=True)
    reference_no = actions._text(data.get("reference_no"), "reference_no", 64, errors, required=False)
    received_at = data.get("received_at") or timezone.now()
    if not isinstance(received_at, dt.datetime):
        errors["received_at"] = [_("日期时间格式无效")]
    elif timezone.is_naive(received_at):
        received_at = timezone.make_aware(received_at)
    now = timezone.now()
    if isinstance(received_at, dt.datetime) and received_at > now + dt.timedelta(minutes=5):
        errors["received_at"] = [_("收到通知时间不能晚于现在")]
    issued_on = data.get("issued_on")
    if issued_on is not None and not isinstance(issued_on, dt.date):
        errors["issued_on"] = [_("日期格式无效")]
    elif (
        issued_on is not None
        and isinstance(received_at, dt.datetime)
        and issued_on > timezone.localdate(received_at)
    ):
        errors["issued_on"] = [_("召回决定日期不能晚于收到通知的日期")]
    all_lots = bool(data.get("all_lots"))
    raw = data.get("lot_nos") or []
    lot_nos: list[str] = []
    if not isinstance(raw, list | tuple):
        errors["lot_nos"] = [_("须为批号列表")]
    else:
        if len(raw) > MAX_RECALL_LOTS:
            errors["lot_nos"] = [_("一次最多 %(n)s 个批号") % {"n": MAX_RECALL_LOTS}]
        for i, value in enumerate(raw[:MAX_RECALL_LOTS]):
            text = str(value or "").strip()
            if not text or len(text) > 40:
                errors[f"lot_nos[{i}]"] = [_("批号须为 1–40 个字符")]
            elif text not in lot_nos:
                lot_nos.append(text)
    if all_lots and lot_nos:
        errors["lot_nos"] = [_("选择了该产品全部批次时不要再填写批号")]
    if not all_lots and not lot_nos and "lot_nos" not in errors:
        errors["lot_nos"] = [_("请填写召回批号,或选择该产品全部批次")]
    actions._raise(errors)
    return {
        "level": level,
        "source": source,
        "reason": reason,
        "reference_no": reference_no,
        "received_at": received_at,
        "issued_on": issued_on,
        "all_lots": all_lots,
        "lot_nos": lot_nos,
    }


def _quarantine_location(actor: Actor, institution_id: int) -> StorageLocation:
    """The institution's quarantine location, created the first time it is needed."""
    loc = (
        StorageLocation.objects.select_for_update()
        .filter(institution_id=institution_id, kind=LocationKind.QUARANTINE)
        .order_by("pk")
        .first()
    )
    if loc is not None:
        if not loc.is_active:
            StorageLocation.objects.filter(pk=loc.pk).update(is_active=True)
        return loc
    name = QUARANTINE_LOCATION_NAME
    if StorageLocation.objects.filter(institution_id=institution_id, name=name).exists():
        name = f"{name}-{timezone.localdate():%Y%m%d}"
    loc = StorageLocation.objects.create(
        institution_id=institution_id, name=name, kind=LocationKind.QUARANTINE
    )
    audit.record(actor, "inventory.location.created", loc, before={})
    return loc


def _quarantine_stock(actor: Actor, lot: Lot, reason: str) -> tuple[StorageLocation | None, Decimal]:
    """Move every unit of the lot held at the institution into its quarantine location (transfer pairs)."""
    on_hand = (
        StockMovement.objects.filter(lot=lot)
        .exclude(location__kind=LocationKind.QUARANTINE)
        .values("location_id")
        .annotate(q=models_sum())
        .filter(q__gt=0)
        .order_by("location_id")
    )
    held = [(r["location_id"], r["q"]) for r in on_hand]
    if not held:
        return None, Decimal(0)
    target = _quarantine_location(actor, lot.institution_id)
    total = Decimal(0)
    for location_id, quantity in held:
        out = actions._post(
            actor,
            institution_id=lot.institution_id,
            lot=lot,
            location_id=location_id,
            kind=MovementKind.TRANSFER_OUT,
            quantity=-quantity,
            reason=reason,
            check_stock=False,
        )
        inn = actions._post(
            actor,
            institution_id=lot.institution_id,
            lot=lot,
            location_id=target.pk,
            kind=MovementKind.TRANSFER_IN,
            quantity=quantity,
            reason=reason,
            counterpart=out,
            check_stock=False,
        )
        StockMovement.objects.filter(pk=out.pk).update(counterpart=inn)
        total += quantity
    TraceCode.objects.filter(lot=lot, status=TraceCodeStatus.RECEIVED).update(location=target)
    return target, total


def models_sum() -> Any:
    from django.db.models import Sum

    return Sum("quantity")


def _recipients(institution_ids: Iterable[int]) -> dict[int, list[int]]:
    from meiguard.notify.services import users_with_roles

    out: dict[int, list[int]] = {}
    for inst_id, org_id in Institution.objects.filter(pk__in=set(institution_ids)).values_list(
        "pk", "organization_id"
    ):
        out[inst_id] = users_with_roles(org_id, ALERT_ROLES) or users_with_roles(org_id, ALERT_FALLBACK_ROLES)
    return out


def _notify(notice_obj: RecallNotice, institution_ids: Iterable[int]) -> int:
    """The compliance officers (else the admins) of each institution, once per notice and institution."""
    from meiguard.notify.models import NotificationKind
    from meiguard.notify.services import send

    sent = 0
    product = notice_obj.product.brand_name or notice_obj.product.generic_name
    for inst_id, people in sorted(_recipients(institution_ids).items()):
        sent += len(
            send(
                people,
                kind=NotificationKind.INVENTORY,
                message="inventory.recall",
                params={
                    "product": product,
                    "lots": ", ".join(notice_obj.lot_nos) if notice_obj.lot_nos else "*",
                    "level": notice_obj.level,
                    "due": notice_obj.due_on.isoformat(),
                },
                url=f"/inventory/recalls/{notice_obj.pk}/",
                dedupe_key=f"inventory-recall:{notice_obj.pk}:{inst_id}",
            )
        )
    return sent


def _apply(actor: Actor, notice_obj: RecallNotice, lots: list[Lot]) -> list[RecallLot]:
    from meiguard.clinical.models import Usage

    rows: list[RecallLot] = []
    why = _("召回(%(level)s级):%(reason)s") % {"level": notice_obj.level, "reason": notice_obj.reason}
    why = why[:500]
    for lot in lots:
        before = audit.snapshot(lot)
        level = min(notice_obj.level, lot.recall_level or notice_obj.level)
        if lot.status != LotStatus.RECALLED or lot.recall_level != level:
            lot.status = LotStatus.RECALLED
            lot.recall_level = level
            lot.save(
                update_fields=["status", "recall_level", "updated_at"]
            )  # signal: snapshots bumped on commit
            audit.record(actor, "registry.lot.status_changed", lot, before=before, reason=why)
        location, quantity = _quarantine_stock(actor, lot, why)
        row = RecallLot.objects.create(
            notice=notice_obj,
            institution_id=lot.institution_id,
            lot=lot,
            quarantine=location,
            quarantined=quantity,
        )
        audit.record(actor, "inventory.recall.lot_recalled", row, before={})
        rows.append(row)
    used_at = Usage.objects.filter(lot_id__in=[lot.pk for lot in lots]).values_list(
        "institution_id", flat=True
    )
    _notify(notice_obj, {lot.institution_id for lot in lots} | set(used_at))
    return rows


@transaction.atomic
def create_notice(
    actor: Actor, *, product_id: int, institution_id: int | None, data: Mapping[str, Any]
) -> RecallNotice:
    """Record a recall notice and recall its lots at once (see the module docstring). ``institution_id`` None:
    every institution holding the lots (platform administrators only)."""
    if institution_id is None:
        if not actor.is_unrestricted:
            raise FieldErrors({"institution_id": [_("请选择机构")]})
        inst = None
    else:
        inst = actions._institution(actor, institution_id)
    product = rq.visible(Product, actor, product_id, field="product_id")
    clean = _clean(actor, data)
    qs = Lot.objects.select_for_update().filter(product=product)
    if inst is not None:
        qs = qs.filter(institution=inst)
    if not clean["all_lots"]:
        qs = qs.filter(lot_no__in=clean["lot_nos"])
    lots = list(qs.order_by("institution_id", "lot_no", "pk"))
    held = {lot.lot_no for lot in lots}
    errors = {
        f"lot_nos[{i}]": [_("没有该产品的批号 %(lot)s") % {"lot": no}]
        for i, no in enumerate(clean["lot_nos"])
        if no not in held
    }
    if not lots and not errors:
        errors["lot_nos"] = [_("没有该产品的批次")]
    actions._raise(errors)
    received_at = clean["received_at"]
    issued_on = clean["issued_on"] or timezone.localdate(received_at)
    notice_obj = RecallNotice.objects.create(
        institution=inst,
        product=product,
        lot_nos=sorted(held) if clean["all_lots"] else clean["lot_nos"],
        all_lots=clean["all_lots"],
        level=clean["level"],
        source=clean["source"],
        reference_no=clean["reference_no"],
        reason=clean["reason"],
        issued_on=clean["issued_on"],
        received_at=received_at,
        due_on=due_on(clean["level"], issued_on),
        created_by_id=actor.user_id or None,
    )
    audit.record(actor, "inventory.recall.created", notice_obj, before={})
    _apply(actor, notice_obj, lots)
    return notice_obj


def lot_for_recall(actor: Actor, lot_id: int) -> Lot:
    """The lot, if the actor keeps stock at its institution (404 otherwise, 403 for a reader)."""
    lot = actions._lot(actor, lot_id)
    return Lot.objects.select_related("product", "institution").get(pk=lot.pk)


def recall_lot(actor: Actor, lot_id: int, *, level: int, reason: str, reference_no: str = "") -> RecallNotice:
    """Recall one lot directly (the institution's own finding): an internal notice for that lot."""
    lot = actions._lot(actor, lot_id)
    return create_notice(
        actor,
        product_id=lot.product_id,
        institution_id=lot.institution_id,
        data={
            "level": level,
            "source": RecallSource.INTERNAL,
            "reason": reason,
            "reference_no": reference_no,
            "lot_nos": [lot.lot_no],
        },
    )


# ---- settling the stock and completing -----------------------------------------------------------


def _row_for_update(actor: Actor, pk: int) -> RecallLot:
    row = (
        RecallLot.objects.visible_to(actor)
        .select_for_update(of=("self",))
        .select_related("lot", "institution", "notice")
        .filter(pk=pk)
        .first()
    )
    if row is None:
        raise NotFoundField("recall_lot_id")
    if not actor.can_write_org(row.institution.organization_id, STOCK_ROLES):
        raise ActionError("FORBIDDEN", _("无权处理该机构的召回批次"), status=403)
    return row


@transaction.atomic
def dispose(actor: Actor, recall_lot_id: int, *, disposal: str, quantity: Any, reason: str) -> RecallLot:
    """Return quarantined units to the supplier (``supplier_return``) or destroy them (``scrap``)."""
    row = _row_for_update(actor, recall_lot_id)
    errors: dict[str, list[str]] = {}
    if disposal not in RecallDisposal.values:
        errors["disposal"] = [_("处理方式须为退回供应商或销毁")]
    text = actions._text(reason, "reason", 500, errors, required=True)
    amount = actions._quantity(quantity, "quantity", errors)
    if not errors and amount > row.in_quarantine:
        errors["quantity"] = [_("超过隔离区现有数量 %(n)s") % {"n": row.in_quarantine.normalize()}]
    if row.completed_at is not None:
        errors.setdefault("recall_lot_id", []).append(_("该召回批次已完成,不能再处理"))
    actions._raise(errors)
    assert row.quarantine_id is not None  # in_quarantine > 0 implies a quarantine location
    before = audit.snapshot(row)
    kind = MovementKind.SUPPLIER_RETURN if disposal == RecallDisposal.RETURNED else MovementKind.SCRAP
    actions._post(
        actor,
        institution_id=row.institution_id,
        lot=row.lot,
        location_id=row.quarantine_id,
        kind=kind,
        quantity=-amount,
        reason=text,
    )
    # Trace codes of the units that left (oldest first) are no longer in stock.
    codes = list(
        TraceCode.objects.filter(lot=row.lot, location_id=row.quarantine_id, status=TraceCodeStatus.RECEIVED)
        .order_by("pk")
        .values_list("pk", flat=True)[: int(amount)]
    )
    if codes:
        TraceCode.objects.filter(pk__in=codes).update(status=TraceCodeStatus.SCRAPPED)
    if disposal == RecallDisposal.RETURNED:
        row.returned += amount
    else:
        row.destroyed += amount
    row.save(update_fields=["returned", "destroyed"])
    audit.record(actor, f"inventory.recall.{disposal}", row, before=before, reason=text)
    return row


@transaction.atomic
def complete(actor: Actor, notice_id: int, *, institution_id: int, note: str = "") -> list[RecallLot]:
    """The institution has stopped use, told its affected clients and settled the quarantined stock."""
    notice_obj = notice(actor, notice_id)
    inst = actions._institution(actor, institution_id)
    errors: dict[str, list[str]] = {}
    note = actions._text(note, "note", 500, errors, required=False)
    actions._raise(errors)
    rows = list(
        RecallLot.objects.select_for_update()
        .filter(notice=notice_obj, institution=inst, completed_at__isnull=True)
        .order_by("pk")
    )
    if not rows:
        raise ActionError("ALREADY_COMPLETED", _("本机构的该召回已完成或不涉及本机构"), status=409)
    now = timezone.now()
    for row in rows:
        before = audit.snapshot(row)
        row.completed_at = now
        row.completed_by_id = actor.user_id or None
        row.completion_note = note
        row.save(update_fields=["completed_at", "completed_by", "completion_note"])
        audit.record(actor, "inventory.recall.completed", row, before=before, reason=note)
    return rows


# ---- the daily reminder ----------------------------------------------------------------------------


def remind_overdue(on: dt.date) -> dict[str, int]:
    """Open recalls past their clock: each institution's compliance officers are reminded once per notice
    (called by the daily lot job, lifecycle ``flag_expired_lots``)."""
    from meiguard.notify.models import NotificationKind
    from meiguard.notify.services import send

    pending = list(
        RecallLot.objects.filter(completed_at__isnull=True, notice__due_on__lt=on)
        .values_list("notice_id", "institution_id", "notice__due_on", "notice__level")
        .distinct()
        .order_by("notice_id", "institution_id")
    )
    people = _recipients({r[1] for r in pending})
    sent = 0
    for notice_id, inst, due, level in pending:
        sent += len(
            send(
                people.get(inst, []),
                kind=NotificationKind.INVENTORY,
                message="inventory.recall_overdue",
                params={"notice": notice_id, "level": level, "due": due.isoformat()},
                url=f"/inventory/recalls/{notice_id}/",
                dedupe_key=f"inventory-recall-overdue:{notice_id}:{inst}",
            )
        )
    return {"overdue_recalls": len(pending), "recall_reminders": sent}


def grouped_contacts(clients: list[AffectedClient]) -> dict[int, list[AffectedClient]]:
    out: dict[int, list[AffectedClient]] = defaultdict(list)
    for c in clients:
        out[c.institution_id].append(c)
    return out
