"""High-risk drugs (issue 13 part 4): the locked cabinet, two-person issue and the daily reconciliation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.clinical import actions as clinical
from meiguard.clinical.models import Usage
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.inventory import actions, highrisk
from meiguard.inventory.choices import AlertKind, IssueStatus, MovementKind
from meiguard.inventory.models import InventoryAlert, IssueRequest, Reconciliation, StockMovement
from meiguard.lifecycle.actions import JOB_BODIES
from meiguard.lifecycle.choices import Job
from meiguard.notify.models import Notification

from .conftest import Inv

pytestmark = pytest.mark.django_db


def _issue(inv: Inv, lot_id: int, n: int = 2, by: str = "zhao", **kw: Any) -> IssueRequest:
    return highrisk.request_issue(
        inv.actor(by),
        lot_id=lot_id,
        location_id=inv.fridge.pk,
        quantity=Decimal(n),
        purpose="肉毒素注射",
        **kw,
    )


def _issues(lot_id: int) -> list[StockMovement]:
    return list(StockMovement.objects.filter(lot_id=lot_id, kind=MovementKind.ISSUE))


# ---- the locked cabinet ---------------------------------------------------------------------------


def test_the_toxin_is_refused_into_an_ordinary_location_citing_dd01(inv: Inv):
    with pytest.raises(FieldErrors) as exc:
        inv.receive(inv.line(location_id=inv.ordinary.pk))
    message = exc.value.errors["lines[0].location_id"][0]
    assert "高风险药品专柜" in message and "国食药监办〔2008〕405号" in message and "seed" not in message
    line, _codes = inv.box(3)
    with pytest.raises(FieldErrors) as exc:
        actions.record_movement(
            inv.actor("zhao"),
            kind="transfer",
            lot_id=line.lot_id,
            location_id=inv.fridge.pk,
            to_location_id=inv.ordinary.pk,
            quantity=Decimal(1),
            reason="移库",
        )
    assert "毒性药品" in exc.value.errors["to_location_id"][0]
    # a high-risk cabinet takes it; a product that is not a high-risk drug may go to the ordinary shelf
    moved = actions.record_movement(
        inv.actor("zhao"),
        kind="transfer",
        lot_id=line.lot_id,
        location_id=inv.fridge.pk,
        to_location_id=inv.shelf.pk,
        quantity=Decimal(1),
        reason="移库",
    )
    assert [m.quantity for m in moved] == [Decimal(-1), Decimal(1)]
    assert highrisk.location_refusal(inv.clinic.rf, inv.ordinary) is None


# ---- two-person issue ----------------------------------------------------------------------------


def test_the_same_person_cannot_confirm_and_nothing_moves_until_a_second_person_does(inv: Inv):
    line, _codes = inv.box(5)
    case = inv.open_case()
    req = _issue(inv, line.lot_id, case_id=case.pk)
    assert req.status == IssueStatus.REQUESTED and _issues(line.lot_id) == []
    with pytest.raises(ActionError) as exc:
        highrisk.confirm_issue(inv.actor("zhao"), req.pk)
    assert exc.value.status == 409 and exc.value.code == "SAME_PERSON"
    assert "另一名" in exc.value.message
    with pytest.raises(ActionError) as exc:  # a doctor is not a keeper of the cabinet
        highrisk.confirm_issue(inv.actor("li"), req.pk)
    assert exc.value.status == 403
    assert _issues(line.lot_id) == []
    done = highrisk.confirm_issue(inv.actor("wang"), req.pk)
    assert done.status == IssueStatus.CONFIRMED and done.confirmed_by == inv.clin.world.users["wang"]
    [movement] = _issues(line.lot_id)
    assert movement.quantity == Decimal(-2) and done.movement_id == movement.pk
    assert actions.on_hand(line.lot_id, inv.fridge.pk) == Decimal(3)
    with pytest.raises(ActionError) as exc:  # a second confirmation writes nothing more
        highrisk.confirm_issue(inv.actor("wang"), req.pk)
    assert exc.value.code == "ISSUE_NOT_OPEN"
    assert len(_issues(line.lot_id)) == 1
    codes = list(
        AuditEntry.objects.filter(action__startswith="inventory.issue.")
        .order_by("pk")
        .values_list("action", "actor")
    )
    users = inv.clin.world.users
    assert codes == [
        ("inventory.issue.requested", users["zhao"].pk),
        ("inventory.issue.confirmed", users["wang"].pk),
    ]


def test_an_unconfirmed_request_can_be_cancelled_and_then_not_confirmed(inv: Inv):
    line, _codes = inv.box(2)
    req = _issue(inv, line.lot_id, n=1)
    with pytest.raises(FieldErrors):
        highrisk.cancel_issue(inv.actor("wang"), req.pk, reason="")
    cancelled = highrisk.cancel_issue(inv.actor("wang"), req.pk, reason="患者改期")
    assert cancelled.status == IssueStatus.CANCELLED and cancelled.cancel_reason == "患者改期"
    with pytest.raises(ActionError) as exc:
        highrisk.confirm_issue(inv.actor("wang"), req.pk)
    assert exc.value.code == "ISSUE_NOT_OPEN"
    assert _issues(line.lot_id) == []


def test_a_request_beyond_stock_or_outside_the_cabinet_is_refused(inv: Inv):
    line, _codes = inv.box(2)
    with pytest.raises(ActionError) as exc:
        _issue(inv, line.lot_id, n=3)
    assert exc.value.code == "INSUFFICIENT_STOCK" and exc.value.status == 409
    with pytest.raises(FieldErrors) as fexc:
        _issue(inv, line.lot_id, n=1, case_id=10**9)
    assert "case_id" in fexc.value.errors
    assert IssueRequest.objects.count() == 0


# ---- daily reconciliation ------------------------------------------------------------------------


def _usage_by_lot(inv: Inv, case_id: int, lot_id: int, key: str) -> Usage:
    return clinical.add_usage(
        inv.actor("li"), case_id, usage_key=key, lot_id=lot_id, dose_value=Decimal(40), dose_unit="U"
    )


def test_a_discrepancy_raises_one_alert_and_one_notice_per_day_and_product(inv: Inv):
    line, codes = inv.box(5)
    case = inv.open_case()
    inv.use(case, codes[0])  # scanned: the unit's own issue movement, used 1 = issued 1
    today = timezone.localdate()
    assert highrisk.reconcile(today) == {"reconciled": 1, "discrepancies": 0, "alerts": 0}
    rec = Reconciliation.objects.get()
    assert (rec.used, rec.issued, rec.on_hand, rec.matched) == (Decimal(1), Decimal(1), Decimal(4), True)

    req = _issue(inv, line.lot_id, n=2, case_id=case.pk)
    highrisk.confirm_issue(inv.actor("wang"), req.pk)
    _usage_by_lot(inv, case.pk, line.lot_id, "by-lot-1")  # one package used by dose; two were issued
    assert highrisk.reconcile(today) == {"reconciled": 1, "discrepancies": 1, "alerts": 1}
    assert highrisk.reconcile(today) == {"reconciled": 1, "discrepancies": 1, "alerts": 0}
    rec.refresh_from_db()
    assert (rec.used, rec.issued, rec.on_hand, rec.matched) == (Decimal(2), Decimal(3), Decimal(2), False)
    [alert] = InventoryAlert.objects.filter(kind=AlertKind.RECONCILIATION)
    assert rec.alert_id == alert.pk and alert.code == highrisk.alert_code(today, inv.clinic.toxin.pk)
    [note] = Notification.objects.filter(message_code="inventory.reconciliation_discrepancy")
    assert note.recipient == inv.clin.world.users["zhao"]  # the compliance officer
    assert note.params["used"] == "2" and note.params["issued"] == "3"
    assert AuditEntry.objects.filter(action="inventory.reconciliation.discrepancy").count() == 1


def test_the_daily_job_reconciles_the_previous_day(inv: Inv):
    line, _codes = inv.box(3)
    case = inv.open_case()
    _usage_by_lot(inv, case.pk, line.lot_id, "by-lot-job")  # used, never issued
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert JOB_BODIES[Job.RECONCILE_HIGH_RISK](tomorrow) == {"reconciled": 1, "discrepancies": 1, "alerts": 1}
    assert Reconciliation.objects.get().day == timezone.localdate()


@pytest.mark.parametrize("history_days", [1, 365])
def test_reconciliation_takes_a_fixed_number_of_queries_whatever_a_year_of_usage(
    inv: Inv, django_assert_num_queries: Any, history_days: int
):
    line, _codes = inv.box(5)
    case = inv.open_case()
    seed = _usage_by_lot(inv, case.pk, line.lot_id, "seed")
    movement = StockMovement.objects.filter(lot_id=line.lot_id).first()
    assert movement is not None
    today = timezone.localdate()
    usages, moves = [], []
    for days in range(1, history_days + 1):  # a year of usage and issue movements before today
        at = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days), dt.time(10)))
        for i in range(3):
            seed.pk = None
            seed.usage_key = f"y{days}-{i}"
            usages.append(Usage(**{f.attname: getattr(seed, f.attname) for f in Usage._meta.concrete_fields}))
            moves.append(
                StockMovement(
                    institution_id=movement.institution_id,
                    lot_id=line.lot_id,
                    location_id=inv.fridge.pk,
                    kind=MovementKind.ISSUE if i else MovementKind.RECEIPT,
                    quantity=Decimal(-1) if i else Decimal(2),
                    at=at,
                )
            )
    created = Usage.objects.bulk_create(usages)
    StockMovement.objects.bulk_create(moves)
    for u, m in zip(created, moves, strict=True):
        Usage.objects.filter(pk=u.pk).update(created_at=m.at)
    assert Usage.objects.count() == 1 + 3 * history_days
    # figures (3), the upsert (1), the discrepancy's rows, names and institutions (3), then its alert, link,
    # audit entry, recipients and notice (16 with savepoints) — the same for a day or a year of rows
    with django_assert_num_queries(QUERIES_WITH_ONE_DISCREPANCY):
        result = highrisk.reconcile(today)
    assert result == {"reconciled": 1, "discrepancies": 1, "alerts": 1}
    rec = Reconciliation.objects.get(day=today)
    assert rec.used == Decimal(1) and rec.issued == Decimal(0)
    assert rec.on_hand == Decimal(5) + history_days * (2 - 2)


QUERIES_WITH_ONE_DISCREPANCY = 23


# ---- the register ----------------------------------------------------------------------------------


def _register_day(inv: Inv) -> tuple[Any, Any]:
    line, _codes = inv.box(5)
    case = inv.open_case()
    req = _issue(inv, line.lot_id, n=2, case_id=case.pk)
    highrisk.confirm_issue(inv.actor("wang"), req.pk)
    _usage_by_lot(inv, case.pk, line.lot_id, "reg-1")
    highrisk.reconcile(timezone.localdate())
    return line, case


def test_the_register_lists_receipts_issues_with_both_people_usage_and_reconciliation(inv: Inv):
    from meiguard.inventory import register

    line, case = _register_day(inv)
    today = timezone.localdate()
    reg = register.build(
        inv.actor("qian"),
        institution_id=inv.clinic.jia.pk,
        product_id=inv.clinic.toxin.pk,
        start=today,
        end=today,
    )
    assert reg.opening == 0 and reg.closing == Decimal(3)
    assert [(e.quantity, e.balance) for e in reg.entries] == [
        (Decimal(5), Decimal(5)),
        (Decimal(-2), Decimal(3)),
    ]
    issue = reg.entries[1]
    assert (issue.by, issue.confirmed_by) == (
        str(inv.clin.world.users["zhao"]),
        str(inv.clin.world.users["wang"]),
    )
    assert case.code in issue.detail
    assert [u["case__code"] for u in reg.usages] == [case.code]
    assert [r.matched for r in reg.reconciliations] == [False]
    assert reg.keep_until == line.expiry_date.replace(year=line.expiry_date.year + 5)
    assert "国食药监办〔2008〕405号" in reg.source

    pdf = register.render_pdf(reg)
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000

    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(register.render_xlsx(reg)))
    sheet = wb.worksheets[0]
    rows = [r for r in sheet.iter_rows(values_only=True) if r and r[0]]
    header = rows.index(next(r for r in rows if r[0] == "时间"))
    body = rows[header + 1 :]
    assert [(r[4], r[5], r[6], r[7]) for r in body] == [
        (5, 5, str(inv.clin.world.users["zhao"]), None),
        (-2, 3, str(inv.clin.world.users["zhao"]), str(inv.clin.world.users["wang"])),
    ]
    assert [r[1] for r in wb.worksheets[1].iter_rows(min_row=2, values_only=True)] == [case.code]
    assert [r[4] for r in wb.worksheets[2].iter_rows(min_row=2, values_only=True)] == ["不符"]


def test_the_register_refuses_a_product_that_is_not_high_risk_and_too_long_a_period(inv: Inv):
    from meiguard.inventory import register

    with pytest.raises(FieldErrors):
        register.build(
            inv.actor("zhao"),
            institution_id=inv.clinic.jia.pk,
            product_id=inv.clinic.rf.pk,
            start=timezone.localdate(),
            end=timezone.localdate(),
        )
    with pytest.raises(FieldErrors):
        register.period(dt.date(2025, 1, 1), dt.date(2026, 6, 1))


def test_the_register_takes_a_fixed_number_of_queries(inv: Inv, django_assert_num_queries: Any):
    from meiguard.inventory import register

    _register_day(inv)
    today = timezone.localdate()
    actor = inv.actor("zhao")
    # institution, product, opening balance, movements, their issue requests, usages, reconciliations, last expiry
    with django_assert_num_queries(8):
        reg = register.build(
            actor, institution_id=inv.clinic.jia.pk, product_id=inv.clinic.toxin.pk, start=today, end=today
        )
    assert len(reg.entries) == 2 and len(reg.usages) == 1
