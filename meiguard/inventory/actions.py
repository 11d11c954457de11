"""Every state change of the inventory: atomic, tenancy-checked (``writable_by`` / stock roles), audited.

The ledger (``_post``, and ``record_use`` for a trace-coded unit's issue on the hot path) is the only writer of
``StockMovement`` rows and of the cached ``Lot.quantity`` (ADR 0016). A trace code is used through
``take_trace_code`` + ``record_use`` inside clinical's usage transaction (whose audit entry names the use); a denied code raises ``TraceCodeDenied`` and the caller records the alert with ``raise_alert``
after its own transaction has rolled back, so the alert survives the refusal.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.db import IntegrityError, connections, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import OrganizationKind, Role
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import Organization
from meiguard.lib.fixedsql import FixedInsert, FixedQuery
from meiguard.registry import queries as rq
from meiguard.registry.choices import DoseUnit, LotStatus, ProductCategory, ProductKind, RiskClass
from meiguard.registry.models import DistributionAuthorization, Institution, Lot, Product, Supplier, add_years

from . import policy
from .choices import (
    ALERT_FALLBACK_ROLES,
    ALERT_ROLES,
    COLD_CHAIN_MAX_C,
    COLD_CHAIN_MIN_C,
    HIGH_RISK_DRUG_CATEGORIES,
    KEEP_YEARS_AFTER_EXPIRY,
    MANUAL_KINDS,
    MAX_CODES_PER_LINE,
    STOCK_ROLES,
    AlertKind,
    Check,
    IdentifiedBy,
    LineStatus,
    LocationKind,
    MovementKind,
    TraceCodeStatus,
)
from .models import (
    InventoryAlert,
    Receipt,
    ReceiptLine,
    StockCount,
    StockMovement,
    StorageLocation,
    TraceCode,
)

TRACE_CODE_RE = re.compile(r"^[0-9]{20}$")
# Implants are kept permanently (DD-08); injectable fillers too, as long as whether they count is unconfirmed.
PERMANENT_CATEGORIES = frozenset(
    {ProductCategory.HYALURONIC_ACID, ProductCategory.COLLAGEN, ProductCategory.POLY_L_LACTIC_ACID}
)
MAX_QUANTITY = Decimal("999999999")


class TraceCodeDenied(ActionError):
    """A trace code scanned a second time, or never received at this institution (DD-06)."""

    def __init__(self, kind: str, code: str, institution_id: int, *, field: str = "code"):
        if kind == AlertKind.SCANNED_AGAIN:
            message = _("该药品追溯码已使用过,不能重复使用;已发出假冒/串货预警")
            error = "TRACE_CODE_USED"
        else:
            message = _("该药品追溯码未在本机构验收入库,不能使用;已发出假冒/串货预警")
            error = "TRACE_CODE_NOT_RECEIVED"
        super().__init__(error, message, field=field, status=409)
        self.kind = kind
        self.trace_code = code
        self.institution_id = institution_id


def _now() -> dt.datetime:
    return timezone.now()


def _text(value: Any, field: str, limit: int, errors: dict[str, list[str]], *, required: bool) -> str:
    text = str(value or "").strip()
    if required and not text:
        errors.setdefault(field, []).append(_("必填"))
    elif len(text) > limit:
        errors.setdefault(field, []).append(_("不能超过 %(n)s 个字符") % {"n": limit})
    return text


def _quantity(value: Any, field: str, errors: dict[str, list[str]], *, signed: bool = False) -> Decimal:
    if value is None or value == "":
        errors.setdefault(field, []).append(_("必填"))
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append(_("须为数字"))
        return Decimal(0)
    if not number.is_finite() or abs(number) > MAX_QUANTITY or number != number.quantize(Decimal("0.001")):
        errors.setdefault(field, []).append(_("须为不超过 999999999 的数字(最多三位小数)"))
    elif number == 0 or (number < 0 and not signed):
        errors.setdefault(field, []).append(_("须大于 0") if not signed else _("不能为 0"))
    return number


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


def _raise(errors: Mapping[str, list[str]]) -> None:
    if errors:
        raise FieldErrors(dict(errors))


def _institution(actor: Actor, institution_id: int, field: str = "institution_id") -> Institution:
    return rq.parent_for_write(Institution, actor, institution_id, field=field, roles=STOCK_ROLES)


def _location(actor: Actor, location_id: Any, institution_id: int | None, field: str) -> StorageLocation:
    try:
        loc = StorageLocation.objects.writable_by(actor).get(pk=int(location_id))
    except (StorageLocation.DoesNotExist, TypeError, ValueError):
        raise NotFoundField(field) from None
    if institution_id is not None and loc.institution_id != institution_id:
        raise NotFoundField(field)
    if not loc.is_active:
        raise FieldErrors({field: [_("该库位已停用")]})
    return loc


# ---- storage locations --------------------------------------------------------------------------


@transaction.atomic
def create_location(actor: Actor, *, institution_id: int, name: str, kind: str) -> StorageLocation:
    inst = _institution(actor, institution_id)
    errors: dict[str, list[str]] = {}
    name = _text(name, "name", 64, errors, required=True)
    if kind not in LocationKind.values:
        errors["kind"] = [_("未知的库位类型")]
    if name and StorageLocation.objects.filter(institution=inst, name=name).exists():
        errors.setdefault("name", []).append(_("本机构已有同名库位"))
    _raise(errors)
    loc = StorageLocation.objects.create(institution=inst, name=name, kind=kind)
    audit.record(actor, "inventory.location.created", loc, before={})
    return loc


@transaction.atomic
def update_location(
    actor: Actor, pk: int, *, name: str | None = None, kind: str | None = None, is_active: bool | None = None
) -> StorageLocation:
    loc = rq.for_update(StorageLocation, actor, pk)
    before = audit.snapshot(loc)
    errors: dict[str, list[str]] = {}
    if name is not None:
        name = _text(name, "name", 64, errors, required=True)
        if (
            StorageLocation.objects.filter(institution_id=loc.institution_id, name=name)
            .exclude(pk=loc.pk)
            .exists()
        ):
            errors.setdefault("name", []).append(_("本机构已有同名库位"))
        loc.name = name
    if kind is not None:
        if kind not in LocationKind.values:
            errors["kind"] = [_("未知的库位类型")]
        loc.kind = kind
    if is_active is not None:
        loc.is_active = is_active
    _raise(errors)
    if audit.diff(before, audit.snapshot(loc)):
        loc.save()
        audit.record(actor, "inventory.location.updated", loc, before=before)
    return loc


# ---- receipts and arrival checks ----------------------------------------------------------------


def keep_until(product: Product, expiry: dt.date) -> dt.date | None:
    """Purchase-inspection records: until 2 years after expiry; implants (and fillers) permanently (DD-08)."""
    implant = product.category in PERMANENT_CATEGORIES or (
        product.kind in (ProductKind.DEVICE, ProductKind.MATERIAL)
        and product.risk_class == RiskClass.CLASS_III
    )
    return None if implant else add_years(expiry, KEEP_YEARS_AFTER_EXPIRY)


def arrival_checks(
    *,
    product: Product,
    supplier: Supplier,
    lot_no: str,
    expiry: dt.date,
    temperature_c: Decimal | None,
    packaging_intact: bool,
    on: dt.date,
) -> list[dict[str, Any]]:
    """The checks of one line on the day it arrives, in the order they are shown."""
    brand = Q(registrant__iexact=product.registrant)
    if product.brand_name:
        brand |= Q(brand__iexact=product.brand_name)
    distribution = (
        product.supplier_id == supplier.pk
        or DistributionAuthorization.objects.filter(
            brand, supplier=supplier, valid_from__lte=on, valid_until__gte=on
        ).exists()
    )
    recalled = Lot.objects.filter(product=product, lot_no=lot_no, status=LotStatus.RECALLED).exists()
    results = [
        (Check.REGISTRATION, product.is_registration_valid(on)),
        (Check.DISTRIBUTION, distribution),
        (Check.NOT_EXPIRED, expiry >= on),
        (Check.NOT_RECALLED, not recalled),
    ]
    if product.cold_chain:
        ok = temperature_c is not None and COLD_CHAIN_MIN_C <= temperature_c <= COLD_CHAIN_MAX_C
        results.append((Check.COLD_CHAIN, ok))
    results.append((Check.PACKAGING, bool(packaging_intact)))
    return [{"check": str(c), "passed": bool(ok)} for c, ok in results]


def _clean_codes(raw: Any, field: str, errors: dict[str, list[str]]) -> list[str]:
    if raw in (None, ""):
        return []
    items = raw.split() if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        errors.setdefault(field, []).append(_("须为追溯码列表"))
        return []
    codes = [str(c).strip() for c in items if str(c).strip()]
    if len(codes) > MAX_CODES_PER_LINE:
        errors.setdefault(field, []).append(_("每行最多 %(n)s 个追溯码") % {"n": MAX_CODES_PER_LINE})
        return []
    bad = [c for c in codes if not TRACE_CODE_RE.match(c)]
    if bad:
        errors.setdefault(field, []).append(
            _("药品追溯码须为 20 位数字:%(codes)s") % {"codes": ", ".join(c[:24] for c in bad[:5])}
        )
    seen: set[str] = set()
    twice = sorted({c for c in codes if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
    if twice:
        errors.setdefault(field, []).append(_("追溯码重复:%(codes)s") % {"codes": ", ".join(twice[:5])})
    return codes


def _line(
    actor: Actor, receipt: Receipt, data: Mapping[str, Any], prefix: str, errors: dict[str, list[str]]
) -> ReceiptLine | None:
    """A line from its input (scanned GS1 UDI, trace codes, or by hand with a reason); errors under ``prefix``."""
    from meiguard.clinical.scan import parse_gs1

    def f(name: str) -> str:
        return f"{prefix}{name}"

    before = len(errors)
    code = str(data.get("code") or "").strip()
    codes = _clean_codes(data.get("trace_codes"), f("trace_codes"), errors)
    lot_no = str(data.get("lot_no") or "").strip()
    expiry = data.get("expiry_date")
    production = data.get("production_date")
    product: Product | None = None
    if code and codes:
        errors.setdefault(f("code"), []).append(_("UDI 与药品追溯码只能选一种"))
    if code:
        try:
            scanned = parse_gs1(code, field=f("code"))
        except FieldErrors as exc:
            for k, v in exc.errors.items():
                errors.setdefault(k, []).extend(v)
            scanned = None
        if scanned is not None:
            product = Product.objects.visible_to(actor).filter(udi_di=scanned.gtin).first()
            if product is None:
                errors.setdefault(f("code"), []).append(_("UDI 中的 GTIN 未登记为任何产品"))
            lot_no = lot_no or scanned.lot
            expiry = expiry or scanned.expiry
            production = production or scanned.production
            if not lot_no:
                errors.setdefault(f("code"), []).append(_("UDI 中没有批号 (10),请补填批号"))
        identified_by = IdentifiedBy.UDI
    elif codes:
        identified_by = IdentifiedBy.TRACE_CODE
    else:
        identified_by = IdentifiedBy.MANUAL
    if product is None and not code:
        product_id = data.get("product_id")
        if product_id is None:
            errors.setdefault(f("product_id"), []).append(_("必填"))
        else:
            product = Product.objects.visible_to(actor).filter(pk=product_id).first()
            if product is None:
                errors.setdefault(f("product_id"), []).append(_("产品不存在或无权访问"))
    manual_reason = _text(
        data.get("manual_reason"),
        f("manual_reason"),
        500,
        errors,
        required=identified_by == IdentifiedBy.MANUAL,
    )
    if identified_by == IdentifiedBy.MANUAL and not manual_reason:
        errors[f("manual_reason")] = [_("手工录入须填写原因(例如条码无法识别)")]
    if not lot_no:
        errors.setdefault(f("lot_no"), []).append(_("必填"))
    elif len(lot_no) > 40:
        errors.setdefault(f("lot_no"), []).append(_("不能超过 %(n)s 个字符") % {"n": 40})
    if not isinstance(expiry, dt.date):
        errors.setdefault(f("expiry_date"), []).append(_("必填"))
    if production is not None and not isinstance(production, dt.date):
        production = None
    if isinstance(expiry, dt.date) and isinstance(production, dt.date) and production > expiry:
        errors.setdefault(f("expiry_date"), []).append(_("失效日期不能早于生产日期"))
    quantity = _quantity(data.get("quantity", len(codes) or None), f("quantity"), errors)
    if codes and quantity != len(codes):
        errors.setdefault(f("quantity"), []).append(
            _("数量须等于扫描的追溯码个数(%(n)s)") % {"n": len(codes)}
        )
    unit = str(data.get("unit") or (product.dose_unit if product else "") or "")
    if unit not in DoseUnit.values:
        errors.setdefault(f("unit"), []).append(_("未知的单位"))
    location: StorageLocation | None = None
    try:
        location = _location(actor, data.get("location_id"), receipt.institution_id, f("location_id"))
    except NotFoundField:
        errors.setdefault(f("location_id"), []).append(_("库位不存在或无权访问"))
    except FieldErrors as exc:
        for k, v in exc.errors.items():
            errors.setdefault(k, []).extend(v)
    temperature = data.get("temperature_c")
    if temperature is not None:
        try:
            temperature = Decimal(str(temperature))
            if not temperature.is_finite() or not Decimal(-50) <= temperature <= Decimal(60):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors.setdefault(f("temperature_c"), []).append(_("温度须在 -50 至 60℃ 之间"))
            temperature = None
    if product is not None and location is not None:
        from .highrisk import location_refusal

        refusal = location_refusal(product, location)
        if refusal:
            errors.setdefault(f("location_id"), []).append(refusal)
    packaging = data.get("packaging_intact")
    if not isinstance(packaging, bool):
        errors.setdefault(f("packaging_intact"), []).append(_("请确认包装是否完好"))
    if codes and not any(k.startswith(f("trace_codes")) for k in errors):
        taken = sorted(TraceCode.objects.filter(code__in=codes).values_list("code", flat=True)[:5])
        if taken:
            errors.setdefault(f("trace_codes"), []).append(
                _("追溯码已入库,不能重复入库:%(codes)s") % {"codes": ", ".join(taken)}
            )
    if len(errors) > before or product is None or location is None or not isinstance(expiry, dt.date):
        return None
    assert isinstance(packaging, bool)
    return ReceiptLine(
        receipt=receipt,
        product=product,
        lot_no=lot_no,
        production_date=production,
        expiry_date=expiry,
        quantity=quantity,
        unit=unit,
        location=location,
        identified_by=identified_by,
        scanned_code=code[:128],
        trace_codes=codes,
        manual_reason=manual_reason if identified_by == IdentifiedBy.MANUAL else "",
        temperature_c=temperature,
        packaging_intact=packaging,
        checks=arrival_checks(
            product=product,
            supplier=receipt.supplier,
            lot_no=lot_no,
            expiry=expiry,
            temperature_c=temperature,
            packaging_intact=packaging,
            on=timezone.localdate(receipt.received_at),
        ),
        keep_until=keep_until(product, expiry),
    )


@transaction.atomic
def create_receipt(
    actor: Actor,
    *,
    institution_id: int,
    supplier_id: int,
    delivery_note_no: str,
    received_at: dt.datetime | None = None,
    note: str = "",
    lines: Sequence[Mapping[str, Any]] = (),
) -> Receipt:
    """A receipt with its lines; every bad line is reported (``lines[i].field``) and nothing is written."""
    inst = _institution(actor, institution_id)
    supplier = rq.visible(Supplier, actor, supplier_id, field="supplier_id")
    errors: dict[str, list[str]] = {}
    delivery_note_no = _text(delivery_note_no, "delivery_note_no", 64, errors, required=True)
    note = _text(note, "note", 2000, errors, required=False)
    received_at = received_at or _now()
    if received_at > _now() + dt.timedelta(minutes=5):
        errors["received_at"] = [_("到货时间不能晚于现在")]
    if (
        delivery_note_no
        and Receipt.objects.filter(
            institution=inst, supplier=supplier, delivery_note_no=delivery_note_no
        ).exists()
    ):
        errors.setdefault("delivery_note_no", []).append(_("该供应商的随货同行单号已登记"))
    if not lines:
        errors["lines"] = [_("请至少登记一行")]
    if len(lines) > 200:
        errors["lines"] = [_("每张入库单最多 200 行")]
    if not actor.user_id:
        raise ActionError("NEEDS_PERSON", _("须由具名人员收货"), status=403)
    receipt = Receipt(
        institution=inst,
        supplier=supplier,
        delivery_note_no=delivery_note_no,
        received_at=received_at,
        received_by_id=actor.user_id,
        note=note,
    )
    built = [_line(actor, receipt, data, f"lines[{i}].", errors) for i, data in enumerate(lines[:200])]
    all_codes = [c for line in built if line is not None for c in line.trace_codes]
    if len(all_codes) != len(set(all_codes)):
        errors.setdefault("lines", []).append(_("同一追溯码出现在多行中"))
    _raise(errors)
    receipt.save()
    audit.record(actor, "inventory.receipt.created", receipt, before={})
    for line in built:
        assert line is not None
        line.receipt = receipt
        line.save()
        audit.record(actor, "inventory.line.added", line, before={}, organization_id=inst.organization_id)
    return receipt


@transaction.atomic
def add_line(actor: Actor, receipt_id: int, data: Mapping[str, Any]) -> ReceiptLine:
    """One more line on a receipt (a second product or lot found in the same delivery)."""
    receipt = rq.for_update(Receipt, actor, receipt_id)
    if not actor.user_id:
        raise ActionError("NEEDS_PERSON", _("须由具名人员收货"), status=403)
    if receipt.lines.count() >= 200:
        raise ActionError("TOO_MANY_LINES", _("每张入库单最多 200 行"), status=409)
    errors: dict[str, list[str]] = {}
    line = _line(actor, receipt, data, "", errors)
    _raise(errors)
    assert line is not None
    line.save()
    audit.record(
        actor, "inventory.line.added", line, before={}, organization_id=receipt.institution.organization_id
    )
    return line


def _line_for_update(actor: Actor, line_id: int) -> ReceiptLine:
    line = rq.for_update(ReceiptLine, actor, line_id)
    if line.status != LineStatus.PENDING:
        raise ActionError("LINE_DECIDED", _("该行已验收或拒收"), status=409)
    if not actor.user_id:
        raise ActionError("NEEDS_PERSON", _("须由具名人员验收"), status=403)
    return line


@transaction.atomic
def reject_line(actor: Actor, line_id: int, *, reason: str) -> ReceiptLine:
    line = _line_for_update(actor, line_id)
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", 500, errors, required=True)
    if not reason:
        errors["reason"] = [_("拒收须填写原因")]
    _raise(errors)
    before = audit.snapshot(line)
    line.status = LineStatus.REJECTED
    line.reject_reason = reason
    line.decided_by_id = actor.user_id
    line.decided_at = _now()
    line.save(update_fields=["status", "reject_reason", "decided_by", "decided_at"])
    audit.record(actor, "inventory.line.rejected", line, before=before, reason=reason)
    return line


@transaction.atomic
def accept_line(actor: Actor, line_id: int) -> ReceiptLine:
    """Accept a line whose arrival checks all passed: the registry lot (created or found), its trace codes and
    the receipt movement, in one transaction. A line with a failed check can only be rejected."""
    line = _line_for_update(actor, line_id)
    failed = line.failed_checks
    if failed:
        labels = dict(Check.choices)
        raise ActionError(
            "CHECKS_FAILED",
            _("到货检查未通过,只能拒收:%(checks)s") % {"checks": "、".join(str(labels[c]) for c in failed)},
            status=409,
            details=[{"code": c, "field": "checks", "message": str(labels[c])} for c in failed],
        )
    receipt = line.receipt
    lot = (
        Lot.objects.select_for_update()
        .filter(product_id=line.product_id, lot_no=line.lot_no, institution_id=receipt.institution_id)
        .first()
    )
    if lot is None:
        lot = Lot.objects.create(
            product_id=line.product_id,
            lot_no=line.lot_no,
            institution_id=receipt.institution_id,
            production_date=line.production_date,
            expiry_date=line.expiry_date,
            unit=line.unit,
        )
        audit.record(actor, "registry.lot.created", lot, before={})
    elif lot.expiry_date != line.expiry_date:
        raise FieldErrors({"expiry_date": [_("失效日期与本机构已登记的同批号批次不一致")]})
    before = audit.snapshot(line)
    line.status = LineStatus.ACCEPTED
    line.decided_by_id = actor.user_id
    line.decided_at = _now()
    line.lot = lot
    line.save(update_fields=["status", "decided_by", "decided_at", "lot"])
    if line.trace_codes:
        try:
            with transaction.atomic():
                TraceCode.objects.bulk_create(
                    TraceCode(
                        code=c,
                        institution_id=receipt.institution_id,
                        lot=lot,
                        location_id=line.location_id,
                        receipt_line=line,
                    )
                    for c in line.trace_codes
                )
        except IntegrityError:
            raise ActionError(
                "TRACE_CODE_TAKEN", _("追溯码已在别处入库,不能重复入库"), field="trace_codes", status=409
            ) from None
    audit.record(actor, "inventory.line.accepted", line, before=before)
    _post(
        actor,
        institution_id=receipt.institution_id,
        lot=lot,
        location_id=line.location_id,
        kind=MovementKind.RECEIPT,
        quantity=line.quantity,
        receipt_line=line,
        check_stock=False,
    )
    return line


# ---- the ledger ---------------------------------------------------------------------------------


def on_hand(lot_id: int, location_id: int) -> Decimal:
    total = StockMovement.objects.filter(lot_id=lot_id, location_id=location_id).aggregate(s=Sum("quantity"))[
        "s"
    ]
    return total or Decimal(0)


def _post(
    actor: Actor,
    *,
    institution_id: int,
    lot: Lot,
    location_id: int,
    kind: str,
    quantity: Decimal,
    reason: str = "",
    receipt_line: ReceiptLine | None = None,
    usage_id: int | None = None,
    count: StockCount | None = None,
    counterpart: StockMovement | None = None,
    check_stock: bool = True,
    audit_it: bool = True,
) -> StockMovement:
    """One movement and the lot's cached total, in the caller's transaction. An outgoing movement that would
    leave less than nothing at the location is refused (the lot row is locked first, so two at once queue)."""
    if check_stock and quantity < 0:
        Lot.objects.select_for_update().filter(pk=lot.pk).values_list("pk", flat=True).first()
        available = on_hand(lot.pk, location_id)
        if available + quantity < 0:
            raise ActionError(
                "INSUFFICIENT_STOCK",
                _("库存不足:该库位现有 %(n)s") % {"n": available.normalize()},
                field="quantity",
                status=409,
            )
    movement = StockMovement.objects.create(
        institution_id=institution_id,
        lot=lot,
        location_id=location_id,
        kind=kind,
        quantity=quantity,
        reason=reason,
        at=_now(),
        by_id=actor.user_id or None,
        receipt_line=receipt_line,
        usage_id=usage_id,
        count=count,
        counterpart=counterpart,
    )
    Lot.objects.filter(pk=lot.pk).update(quantity=F("quantity") + quantity, updated_at=_now())
    if quantity > 0:
        _back_in_stock(actor, lot)
    if audit_it:
        audit.record(
            actor,
            "inventory.movement.recorded",
            movement,
            changes={"kind": kind, "lot": lot.pk, "location": location_id, "quantity": str(quantity)},
            reason=reason,
        )
    return movement


def _lot(actor: Actor, lot_id: Any, field: str = "lot_id") -> Lot:
    lot = rq.visible(Lot, actor, lot_id, field=field)
    if not actor.can_write_org(lot.institution.organization_id, STOCK_ROLES):
        raise ActionError("FORBIDDEN", _("无权变更该批次库存"), field=field, status=403)
    return lot


def _codes_at(lot: Lot, location_id: int, codes: Sequence[str], field: str) -> list[TraceCode]:
    found = list(
        TraceCode.objects.select_for_update().filter(
            code__in=codes, lot=lot, location_id=location_id, status=TraceCodeStatus.RECEIVED
        )
    )
    missing = sorted(set(codes) - {t.code for t in found})
    if missing:
        raise FieldErrors(
            {field: [_("这些追溯码不在该库位在库:%(codes)s") % {"codes": ", ".join(missing[:5])}]}
        )
    return found


@transaction.atomic
def record_movement(
    actor: Actor,
    *,
    kind: str,
    lot_id: int,
    location_id: int,
    quantity: Decimal,
    reason: str = "",
    to_location_id: int | None = None,
    trace_codes: Iterable[str] = (),
) -> list[StockMovement]:
    """A transfer (out of one location, into another, possibly at another site of the same organisation),
    a scrap, a return to the supplier, a return from a case or an adjustment. Each needs a reason; scrap and transfer may name the trace
    codes of the units concerned (they are scrapped or move along)."""
    lot = _lot(actor, lot_id)
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", 500, errors, required=True)
    if not reason:
        errors["reason"] = [_("请填写原因")]
    codes = _clean_codes(list(trace_codes), "trace_codes", errors)
    if kind not in (*MANUAL_KINDS, "transfer", MovementKind.SUPPLIER_RETURN):
        errors["kind"] = [_("只能登记调拨、报废、病例退回、退回供应商或盘点调整")]
    signed = kind == MovementKind.ADJUSTMENT
    quantity = _quantity(quantity, "quantity", errors, signed=signed)
    if codes and quantity != len(codes):
        errors.setdefault("quantity", []).append(_("数量须等于追溯码个数(%(n)s)") % {"n": len(codes)})
    if kind == "transfer" and to_location_id is None:
        errors["to_location_id"] = [_("调拨须选择目标库位")]
    _raise(errors)
    source = _location(actor, location_id, lot.institution_id, "location_id")
    if kind == "transfer":
        assert to_location_id is not None
        target = _location(actor, to_location_id, None, "to_location_id")
        if target.pk == source.pk:
            raise FieldErrors({"to_location_id": [_("目标库位不能与来源库位相同")]})
        _refuse_location(lot, target, "to_location_id")
        moving = _codes_at(lot, source.pk, codes, "trace_codes") if codes else []
        target_lot = lot
        if target.institution_id != lot.institution_id:
            target_lot = _lot_at(actor, lot, target.institution_id)
        out = _post(
            actor,
            institution_id=lot.institution_id,
            lot=lot,
            location_id=source.pk,
            kind=MovementKind.TRANSFER_OUT,
            quantity=-quantity,
            reason=reason,
        )
        inn = _post(
            actor,
            institution_id=target.institution_id,
            lot=target_lot,
            location_id=target.pk,
            kind=MovementKind.TRANSFER_IN,
            quantity=quantity,
            reason=reason,
            counterpart=out,
            check_stock=False,
        )
        StockMovement.objects.filter(pk=out.pk).update(counterpart=inn)
        out.counterpart = inn
        if moving:
            TraceCode.objects.filter(pk__in=[t.pk for t in moving]).update(
                location=target, lot=target_lot, institution_id=target.institution_id
            )
        return [out, inn]
    if kind in (MovementKind.SCRAP, MovementKind.SUPPLIER_RETURN):
        # Scrapped or sent back to the supplier: the units' trace codes leave stock (as a recall's return does).
        scrapped = _codes_at(lot, source.pk, codes, "trace_codes") if codes else []
        movement = _post(
            actor,
            institution_id=lot.institution_id,
            lot=lot,
            location_id=source.pk,
            kind=kind,
            quantity=-quantity,
            reason=reason,
        )
        if scrapped:
            TraceCode.objects.filter(pk__in=[t.pk for t in scrapped]).update(status=TraceCodeStatus.SCRAPPED)
        return [movement]
    if kind == MovementKind.RETURN:
        _refuse_location(lot, source, "location_id")
    return [
        _post(
            actor,
            institution_id=lot.institution_id,
            lot=lot,
            location_id=source.pk,
            kind=kind,
            quantity=quantity,
            reason=reason,
        )
    ]


def _refuse_location(lot: Lot, location: StorageLocation, field: str) -> None:
    """High-risk drugs go only into the locked cabinet (DD-01; ``highrisk.location_refusal``)."""
    from .highrisk import location_refusal

    refusal = location_refusal(lot.product, location)
    if refusal:
        raise FieldErrors({field: [refusal]})


def _lot_at(actor: Actor, lot: Lot, institution_id: int) -> Lot:
    """The same product lot at another site the actor keeps stock for (created there if new)."""
    inst = _institution(actor, institution_id, "to_location_id")
    target = (
        Lot.objects.select_for_update()
        .filter(product_id=lot.product_id, lot_no=lot.lot_no, institution=inst)
        .first()
    )
    if target is None:
        target = Lot.objects.create(
            product_id=lot.product_id,
            lot_no=lot.lot_no,
            institution=inst,
            production_date=lot.production_date,
            expiry_date=lot.expiry_date,
            unit=lot.unit,
            status=lot.status,
            recall_level=lot.recall_level,
        )
        audit.record(actor, "registry.lot.created", target, before={})
    return target


def _back_in_stock(actor: Actor, lot: Lot) -> None:
    """A lot marked used up (已用完) that receives new stock is available again: otherwise the engine would
    keep refusing the units just accepted (``LOT_USED_UP``). Saved with ``Lot.save`` so the decision snapshot's
    generation is bumped as for every lot change; a recalled or quarantined lot keeps its status."""
    if lot.status != LotStatus.USED_UP:
        return
    before = audit.snapshot(lot)
    lot.status = LotStatus.AVAILABLE
    lot.save(update_fields=["status", "updated_at"])
    audit.record(
        actor, "registry.lot.status_changed", lot, before=before, reason=_("新到货入库,批次恢复可用")
    )


@transaction.atomic
def record_count(
    actor: Actor,
    *,
    location_id: int,
    counts: Sequence[Mapping[str, Any]],
    reason: str = "",
    counted_at: dt.datetime | None = None,
) -> StockCount:
    """A stock count (盘点) of a location: each counted lot whose quantity differs from the ledger gets an
    adjustment movement for the difference, with the reason. Lots not listed are left as they are."""
    loc = _location(actor, location_id, None, "location_id")
    if not actor.can_write_org(loc.institution.organization_id, STOCK_ROLES):
        raise ActionError("FORBIDDEN", _("无权盘点该库位"), field="location_id", status=403)
    if not actor.user_id:
        raise ActionError("NEEDS_PERSON", _("须由具名人员盘点"), status=403)
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", 500, errors, required=False)
    if not counts:
        errors["counts"] = [_("请至少填写一个批次的盘点数量")]
    rows: list[tuple[Lot, Decimal, Decimal]] = []
    seen: set[int] = set()
    for i, item in enumerate(counts[:500]):
        lot_id = item.get("lot_id")
        lot = (
            Lot.objects.filter(pk=lot_id, institution_id=loc.institution_id).first()
            if isinstance(lot_id, int)
            else None
        )
        if lot is None:
            errors.setdefault(f"counts[{i}].lot_id", []).append(_("批次不存在或不属于该库位的机构"))
            continue
        if lot.pk in seen:
            errors.setdefault(f"counts[{i}].lot_id", []).append(_("同一批次只能填写一次"))
            continue
        seen.add(lot.pk)
        try:
            counted = Decimal(str(item.get("counted")))
            if not counted.is_finite() or counted < 0 or counted > MAX_QUANTITY:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors.setdefault(f"counts[{i}].counted", []).append(_("盘点数量须为不小于 0 的数字"))
            continue
        Lot.objects.select_for_update().filter(pk=lot.pk).values_list("pk", flat=True).first()
        rows.append((lot, on_hand(lot.pk, loc.pk), counted))
    if any(expected != counted for _lot, expected, counted in rows) and not reason:
        errors["reason"] = [_("盘点有差异时须填写原因")]
    _raise(errors)
    count = StockCount.objects.create(
        institution_id=loc.institution_id,
        location=loc,
        counted_at=counted_at or _now(),
        counted_by_id=int(actor.user_id),
        reason=reason,
        lines=[{"lot": lot.pk, "expected": _plain(e), "counted": _plain(c)} for lot, e, c in rows],
    )
    audit.record(actor, "inventory.count.recorded", count, before={}, reason=reason)
    for lot, expected, counted in rows:
        if counted != expected:
            _post(
                actor,
                institution_id=loc.institution_id,
                lot=lot,
                location_id=loc.pk,
                kind=MovementKind.ADJUSTMENT,
                quantity=counted - expected,
                reason=reason,
                count=count,
                check_stock=False,
            )
    return count


# ---- trace codes: scanned once ------------------------------------------------------------------


def is_trace_code(code: str) -> bool:
    return bool(TRACE_CODE_RE.match((code or "").strip()))


class TakenCode(NamedTuple):
    """A received trace code, locked for the caller's transaction (what ``take_trace_code`` returns)."""

    pk: int
    code: str
    institution_id: int
    lot_id: int
    location_id: int
    # A high-risk unit (DD-01) is used out of a confirmed two-person issue: the request (locked) and its
    # movement. None for every other unit (its own issue movement is written on use).
    issue_id: int | None = None
    issue_movement_id: int | None = None


# The hot path (a unit scanned into a case) as compiled statements (ADR 0013/0020, ``lib.fixedsql``): building
# and compiling an ORM query costs more than running it, and on PostgreSQL the look-up is prepared once per
# connection. The three writes are built once per database from the models' own table and column names.
_TAKE = FixedQuery(
    lambda code: (
        TraceCode.objects.select_for_update(of=("self",))
        .filter(code=code)
        .values_list("pk", "institution_id", "lot_id", "location_id", "status", "lot__product__category")
    )
)
_ISSUE = FixedInsert(
    StockMovement, ("institution", "lot", "location", "kind", "quantity", "reason", "at", "by", "usage")
)
_USE_SQL: dict[str, tuple[str, str]] = {}


def _use_sql(alias: str) -> tuple[str, str]:
    """The claim (a conditional update: only a unit still *received* is taken) and the lot's cached total."""
    sql = _USE_SQL.get(alias)
    if sql is None:
        q = connections[alias].ops.quote_name
        t, lot = TraceCode._meta, Lot._meta
        col = {f.name: q(f.column) for f in t.concrete_fields}
        lcol = {f.name: q(f.column) for f in lot.concrete_fields}
        claim = (
            f"UPDATE {q(t.db_table)} SET {col['status']} = %s, {col['usage']} = %s, {col['used_at']} = %s "
            f"WHERE {col['id']} = %s AND {col['status']} = %s"
        )
        total = (
            f"UPDATE {q(lot.db_table)} SET {lcol['quantity']} = {lcol['quantity']} - 1, {lcol['updated_at']} = %s "
            f"WHERE {lcol['id']} = %s"
        )
        sql = _USE_SQL[alias] = (claim, total)
    return sql


def take_trace_code(
    institution_id: int, code: str, *, field: str = "code", case_id: int | None = None
) -> TakenCode:
    """The trace code received at this institution and not yet used, locked for the caller's transaction
    (one indexed, compiled query). A used/scrapped code or one never received here raises ``TraceCodeDenied``.

    A unit of a high-risk drug (DD-01: botulinum toxin, kept under two locks) is used only out of a confirmed
    two-person issue of its lot — for this case, or for a session (no case) — that still has units not yet
    scanned; without one the scan is refused (409 ``HIGH_RISK_NOT_ISSUED``, saying how to fix it) before the
    engine runs. The issue request is locked for the caller's transaction (``record_use`` takes one unit)."""
    code = code.strip()
    rows = _TAKE.run(code)
    if not rows or rows[0][1] != institution_id:
        raise TraceCodeDenied(AlertKind.NOT_RECEIVED, code, institution_id, field=field)
    pk, inst, lot_id, location_id, status, category = rows[0]
    if status != TraceCodeStatus.RECEIVED:
        raise TraceCodeDenied(AlertKind.SCANNED_AGAIN, code, institution_id, field=field)
    if category in HIGH_RISK_DRUG_CATEGORIES:
        issue_id, movement_id = _issue_for_scan(inst, lot_id, case_id, field)
        return TakenCode(pk, code, inst, lot_id, location_id, issue_id, movement_id)
    return TakenCode(pk, code, inst, lot_id, location_id)


def _not_issued(field: str) -> ActionError:
    return ActionError(
        "HIGH_RISK_NOT_ISSUED",
        _(
            "该药品按毒性药品管理,须经双人复核出库后才能扫码使用,本批次没有可用的已确认出库。"
            "请在“高风险药品专柜”为本病例(或本次治疗)发起出库申请,由另一位库管人员确认后再扫码。"
        ),
        field=field,
        status=409,
    )


def _issue_for_scan(
    institution_id: int, lot_id: int, case_id: int | None, field: str
) -> tuple[int, int | None]:
    """The confirmed two-person issue a scanned high-risk unit is taken from: of this lot, for this case or
    for no case (this case's first), oldest first, with units left to scan; locked. None: refused."""
    from .choices import IssueStatus
    from .models import IssueRequest

    cases = Q(case__isnull=True) if case_id is None else Q(case_id=case_id) | Q(case__isnull=True)
    found = (
        IssueRequest.objects.select_for_update(of=("self",))
        .filter(cases, institution_id=institution_id, lot_id=lot_id, status=IssueStatus.CONFIRMED)
        .filter(scanned__lt=F("quantity"))
        .order_by(F("case_id").asc(nulls_last=True), "confirmed_at", "pk")
        .values_list("pk", "movement_id")
        .first()
    )
    if found is None:
        raise _not_issued(field)
    return found[0], found[1]


def record_use(actor: Actor, trace: TakenCode | TraceCode, *, usage_id: int | None) -> int:
    """Mark the unit used by ``usage_id``, write its issue movement (−1 at its location) and take it off the
    lot's cached total, in the caller's transaction; returns the movement's id. Three compiled statements.

    The claim is conditional (``status = received``), so of two devices using one code at once exactly one
    succeeds; the other raises ``TraceCodeDenied`` and its transaction rolls back. Not audited here: the
    caller's own audit entry must name the code and the movement (clinical's ``clinical.usage.added`` does),
    so the record of which unit went into whom is one entry in the same transaction."""
    alias = "default"
    connection = connections[alias]
    claim_sql, total_sql = _use_sql(alias)
    now = _now()
    at = TraceCode._meta.get_field("used_at").get_db_prep_save(now, connection)
    with connection.cursor() as cursor:
        cursor.execute(claim_sql, [TraceCodeStatus.USED, usage_id, at, trace.pk, TraceCodeStatus.RECEIVED])
        claimed = cursor.rowcount
    if claimed != 1:
        raise TraceCodeDenied(AlertKind.SCANNED_AGAIN, trace.code, trace.institution_id)
    issue_id = getattr(trace, "issue_id", None)
    if issue_id is not None:
        # A high-risk unit: its stock left the cabinet with the confirmed two-person issue; the scan takes one
        # of that issue's units (never more than were issued) and names the issue's movement.
        from .models import IssueRequest

        taken = IssueRequest.objects.filter(pk=issue_id, scanned__lt=F("quantity")).update(
            scanned=F("scanned") + 1
        )
        if taken != 1:
            raise _not_issued("code")
        return int(getattr(trace, "issue_movement_id", None) or 0)
    movement = StockMovement(
        institution_id=trace.institution_id,
        lot_id=trace.lot_id,
        location_id=trace.location_id,
        kind=MovementKind.ISSUE,
        quantity=Decimal(-1),
        reason="",
        at=now,
        by_id=actor.user_id or None,
        usage_id=usage_id,
    )
    _ISSUE.insert(movement, using=alias)
    with connection.cursor() as cursor:
        cursor.execute(
            total_sql, [Lot._meta.get_field("updated_at").get_db_prep_save(now, connection), trace.lot_id]
        )
    return int(movement.pk)


def _org_of(institution_id: int) -> int | None:
    return Institution.objects.filter(pk=institution_id).values_list("organization_id", flat=True).first()


def _alert_recipients(institution_id: int, org_id: int) -> list[int]:
    from meiguard.notify.services import users_with_roles

    people = users_with_roles(org_id, ALERT_ROLES) or users_with_roles(org_id, ALERT_FALLBACK_ROLES)
    if policy.alert_association(institution_id, timezone.localdate()):
        bodies = Organization.objects.filter(oversees=org_id, kind=OrganizationKind.OVERSIGHT, is_active=True)
        for body in bodies.values_list("pk", flat=True):
            people = [*people, *users_with_roles(body, (Role.AUDITOR,))]
    return sorted(set(people))


def raise_alert(actor: Actor, denied: TraceCodeDenied, *, case_id: int | None = None) -> InventoryAlert:
    """Record a counterfeit/diversion alert (DD-06) once per code and institution and notify the compliance
    officers (and the association when the institution's policy says so). Its own transaction: it is called
    after the refused scan's transaction has rolled back."""
    from meiguard.notify.messages import label
    from meiguard.notify.models import NotificationKind
    from meiguard.notify.services import send

    with transaction.atomic():
        org_id = _org_of(denied.institution_id)
        alert = (
            InventoryAlert.objects.select_for_update()
            .filter(institution_id=denied.institution_id, code=denied.trace_code)
            .first()
        )
        if alert is not None:
            InventoryAlert.objects.filter(pk=alert.pk).update(times=F("times") + 1, last_seen_at=_now())
            alert.refresh_from_db()
            return alert
        try:
            with transaction.atomic():
                alert = InventoryAlert.objects.create(
                    institution_id=denied.institution_id,
                    kind=denied.kind,
                    code=denied.trace_code,
                    first_by_id=actor.user_id or None,
                    case_id_seen=case_id,
                )
        except IntegrityError:  # the other device's scan raised it a moment ago
            return InventoryAlert.objects.get(institution_id=denied.institution_id, code=denied.trace_code)
        audit.record(actor, "inventory.alert.raised", alert, before={}, organization_id=org_id)
        if org_id is not None:
            send(
                _alert_recipients(denied.institution_id, org_id),
                kind=NotificationKind.INVENTORY,
                message=f"inventory.trace_alert.{denied.kind}",
                params={"kind": label(AlertKind(denied.kind).label), "code": denied.trace_code},
                url=f"/inventory/alerts/?institution={denied.institution_id}",
                dedupe_key=f"inventory-alert:{alert.pk}",
            )
        return alert


@transaction.atomic
def resolve_alert(actor: Actor, alert_id: int, *, resolution: str) -> InventoryAlert:
    """Close a counterfeit/diversion or reconciliation alert with what was found and done (kept with it). Only
    the stock keepers of the alert's institution; an alert is closed once (a second close is refused)."""
    alert = rq.visible(InventoryAlert, actor, alert_id, field="alert_id")
    if not actor.can_write_org(alert.institution.organization_id, STOCK_ROLES):
        raise ActionError("FORBIDDEN", _("无权处理该预警"), field="alert_id", status=403)
    errors: dict[str, list[str]] = {}
    resolution = _text(resolution, "resolution", 500, errors, required=True)
    if not resolution:
        errors["resolution"] = [_("请填写处理结果")]
    _raise(errors)
    before = audit.snapshot(alert)
    updated = InventoryAlert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(
        resolved_at=_now(), resolved_by_id=actor.user_id or None, resolution=resolution
    )
    if updated != 1:
        raise ActionError("ALERT_CLOSED", _("该预警已处理"), status=409)
    alert.refresh_from_db()
    audit.record(actor, "inventory.alert.resolved", alert, before=before, reason=resolution)
    return alert
