"""Trace codes scanned once (DD-06): a use links the unit to the case usage; a second scan or a code never
received here is denied with one counterfeit/diversion alert to the compliance officer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db.models import Sum

from meiguard.audit.models import AuditEntry
from meiguard.clinical.models import Usage
from meiguard.inventory import actions
from meiguard.inventory.models import InventoryAlert, IssueRequest, StockMovement, TraceCode
from meiguard.notify.models import Notification
from meiguard.registry.models import Lot, Product

from .conftest import Inv, trace_codes

pytestmark = pytest.mark.django_db


def test_a_unit_is_used_once_and_a_second_scan_is_denied_with_one_alert(inv: Inv):
    line, codes = inv.box(3)
    case = inv.open_case()
    usage = inv.use(case, codes[0])
    assert usage.lot_id == line.lot_id and usage.scanned_code == codes[0]
    unit = TraceCode.objects.get(code=codes[0])
    assert (unit.status, unit.usage_id) == ("used", usage.pk) and unit.used_at is not None
    # The toxin is a high-risk drug: the unit came out of the cabinet with a confirmed two-person issue (one
    # movement, −1), and the scan took that issued unit instead of writing a movement of its own.
    req = IssueRequest.objects.get()
    issue = StockMovement.objects.get(kind="issue", lot_id=line.lot_id)
    assert (issue.pk, issue.quantity, issue.location_id, issue.usage_id) == (
        req.movement_id,
        -1,
        inv.fridge.pk,
        None,
    )
    assert req.scanned == 1
    assert line.lot is not None
    line.lot.refresh_from_db()
    assert line.lot.quantity == 2
    assert inv.use(case, codes[0]).pk == usage.pk  # the same scan resent: recorded once, no alert
    assert not InventoryAlert.objects.exists()

    for attempt in (1, 2):
        with pytest.raises(actions.TraceCodeDenied) as exc:
            inv.use(case, codes[0], key=f"again-{attempt}")
        assert exc.value.code == "TRACE_CODE_USED" and exc.value.status == 409
    alert = InventoryAlert.objects.get()
    assert (alert.kind, alert.code, alert.times, alert.case_id_seen) == (
        "scanned_again",
        codes[0],
        2,
        case.pk,
    )
    zhao = inv.clin.world.users["zhao"]
    sent = Notification.objects.filter(kind="inventory")
    assert list(sent.values_list("recipient_id", flat=True)) == [zhao.pk]  # once, to the compliance officer
    assert Usage.objects.filter(case=case).count() == 1


def test_a_code_never_received_here_is_denied_with_an_alert(inv: Inv):
    inv.box(1)
    case = inv.open_case()
    stranger = trace_codes(1)[0]
    with pytest.raises(actions.TraceCodeDenied) as exc:
        inv.use(case, stranger)
    assert exc.value.code == "TRACE_CODE_NOT_RECEIVED"
    assert InventoryAlert.objects.get().kind == "not_received"
    assert not Usage.objects.filter(case=case).exists()


def test_the_association_is_told_when_the_policy_says_so(inv: Inv, monkeypatch):
    from meiguard.inventory import policy

    monkeypatch.setattr(policy, "alert_association", lambda institution_id, on: True)
    case = inv.open_case()
    with pytest.raises(actions.TraceCodeDenied):
        inv.use(case, trace_codes(1)[0])
    world = inv.clin.world
    recipients = set(Notification.objects.filter(kind="inventory").values_list("recipient_id", flat=True))
    assert recipients == {world.users["zhao"].pk, world.users["qian"].pk}


def test_the_policy_setting_for_the_association_is_read(inv: Inv):
    import datetime as dt

    from meiguard.inventory import policy
    from meiguard.rules import institution

    jia = inv.clinic.jia.pk
    assert policy.alert_association(jia, dt.date.today()) is False
    assert policy.near_expiry_days(jia, dt.date.today()) == 90
    zhao = inv.actor("zhao")
    draft = institution.save_draft(
        zhao, jia, values={"trace_alert_to_association": True, "near_expiry_days": 60}
    )
    institution.publish(zhao, jia, draft.version, effective_from=dt.date.today())
    assert policy.alert_association(jia, dt.date.today()) is True
    assert policy.near_expiry_days(jia, dt.date.today()) == 60


def test_the_decision_api_resolves_a_trace_code_to_its_lot(inv: Inv):
    line, codes = inv.box(2)
    c = inv.clin.world.client("zhao")
    payload = inv.clinic.payload(products=[{"trace_code": codes[0], "dose_value": "50", "dose_unit": "U"}])
    r = c.post("/api/v1/decisions", data=json.dumps(payload), content_type="application/json")
    assert r.status_code == 200, r.content
    from meiguard.authz.models import DecisionLog

    logged = DecisionLog.objects.get(pk=r.json()["id"]).request
    assert [p["lot_id"] for p in logged["products"]] == [line.lot_id]
    stranger = trace_codes(1)[0]
    payload["products"][0]["trace_code"] = stranger
    r = c.post("/api/v1/decisions", data=json.dumps(payload), content_type="application/json")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "TRACE_CODE_NOT_RECEIVED" and body["field"] == "products[0].trace_code"
    assert InventoryAlert.objects.filter(code=stranger).count() == 1


def test_resolving_and_using_a_trace_code_costs_a_fixed_number_of_queries(
    inv: Inv, django_assert_num_queries
):
    line, codes = inv.box(3)
    case = inv.open_case()
    usage = inv.use(case, codes[0])
    jia = inv.clinic.jia.pk
    spare = _spare_usage(usage)
    li = inv.actor("li")
    # The plain hot path: a drug that is not high-risk (no two-person issue), e.g. a local anaesthetic.
    Product.objects.filter(pk=inv.clinic.toxin.pk).update(category="local_anesthetic")
    with django_assert_num_queries(1):  # one indexed look-up, locked (compiled: the same SQL every time)
        unit = actions.take_trace_code(jia, codes[1])
    # Three statements: claim the unit (a conditional update), the issue movement, the lot's cached total. Was
    # 9 with an audit entry of its own (organisation, chain head get/bump/re-read, entry, hash link); the use
    # is now named in the usage's own entry (clinical.usage.added), so a scan adds no entry of its own.
    with django_assert_num_queries(3) as captured:
        movement_id = actions.record_use(li, unit, usage_id=spare)
    sql = [q["sql"].upper() for q in captured.captured_queries]
    assert sql[0].startswith("UPDATE") and sql[1].startswith("INSERT") and sql[2].startswith("UPDATE")
    used = TraceCode.objects.get(code=codes[1])
    assert (used.status, used.usage_id) == ("used", spare)
    movement = StockMovement.objects.get(pk=movement_id)
    assert (movement.kind, movement.quantity, movement.usage_id, movement.lot_id, movement.location_id) == (
        "issue",
        Decimal(-1),
        spare,
        line.lot_id,
        used.location_id,
    )
    assert line.lot_id is not None
    lot = Lot.objects.get(pk=line.lot_id)
    ledger = StockMovement.objects.filter(lot_id=lot.pk).aggregate(s=Sum("quantity"))["s"]
    assert lot.quantity == ledger == Decimal(1)  # 3 received, 2 used: the cache still equals the ledger
    # The claim is conditional: the same unit a second time claims nothing and writes nothing.
    with django_assert_num_queries(1), pytest.raises(actions.TraceCodeDenied):
        actions.record_use(li, unit, usage_id=spare)
    from meiguard.inventory import queries

    with django_assert_num_queries(1):
        assert queries.lot_for_trace_code(jia, codes[2]) == (line.lot_id, "received")


def _spare_usage(usage: Usage) -> int:
    """Another usage row to link (a unit links to one usage)."""
    spare = Usage.objects.create(
        record_id=usage.record_id,
        case_id=usage.case_id,
        client_id=usage.client_id,
        institution_id=usage.institution_id,
        usage_key="spare",
        lot_id=usage.lot_id,
        decision_id=usage.decision_id,
    )
    return spare.pk


def test_the_usage_audit_entry_says_which_unit_went_into_whom(inv: Inv):
    """A scan writes no audit entry of its own: the usage's entry, in the same transaction and hash chain,
    names the trace code, the issue movement, the lot and the client."""
    line, codes = inv.box(2)
    case = inv.open_case()
    before = set(AuditEntry.objects.values_list("pk", flat=True))
    usage = inv.use(case, codes[0])
    new = AuditEntry.objects.exclude(pk__in=before)
    assert not new.filter(action="inventory.tracecode.used").exists()
    entry = new.get(action="clinical.usage.added", object_id=str(usage.pk))
    movement = StockMovement.objects.get(pk=IssueRequest.objects.get().movement_id)  # the two-person issue
    assert entry.changes["trace_code"] == [None, codes[0]]
    assert entry.changes["stock_movement"] == [None, movement.pk]
    assert entry.changes["lot"] == [None, line.lot_id]
    assert entry.changes["client"] == [None, case.client_id]
    assert entry.organization_id == inv.clinic.jia.organization_id


def test_the_usage_entry_reads_as_the_code_and_the_movement_not_as_ids(inv: Inv):
    from meiguard.audit.display import Renderer

    _line, codes = inv.box(1)
    usage = inv.use(inv.open_case(), codes[0])
    entry = AuditEntry.objects.get(action="clinical.usage.added", object_id=str(usage.pk))
    shown = {c.field: (c.label, c.new) for c in Renderer().changes(entry.object_type, entry.changes)}
    assert shown["trace_code"] == ("药品追溯码", codes[0])
    assert shown["stock_movement"] == ("库存变动", "病例使用出库 -1")
