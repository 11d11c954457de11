"""Recalls (DD-09): recalling a lot blocks it in the engine at once, quarantines its stock, lists the clients who
received it (contacts for the compliance officer / 医务科 only), tells each institution once; the clock per
level; the report; tenancy; the API's strict errors."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from meiguard.authz import actions as authz
from meiguard.authz.tests.conftest import FAR, SYSTEM, snapshot_product
from meiguard.clinical import actions as clinical
from meiguard.clinical.tests.conftest import TOXIN
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import FieldErrors
from meiguard.inventory import recall, recall_report
from meiguard.inventory.models import RecallLot, RecallNotice, StockMovement, StorageLocation, TraceCode
from meiguard.notify.models import Notification
from meiguard.registry import actions as reg
from meiguard.registry.models import Lot

from .conftest import Inv

pytestmark = pytest.mark.django_db
BASE = "/api/v1/inventory"


def _treat(inv: Inv, name: str, code: str) -> Any:
    client = inv.clin.new_client(name)
    case = inv.clin.ready(TOXIN, client=client)
    clinical.open_record(inv.actor("li"), case.pk)
    return inv.use(case, code)


def _world(inv: Inv) -> tuple[Lot, Lot, list[str]]:
    """Lot A (5 vials, two given to two clients) and lot B (3 vials, one given to a third client)."""
    line_a, codes_a = inv.box(5)
    line_b, codes_b = inv.box(3, lot_no="T2026R2")
    _treat(inv, "甲女士", codes_a[0])
    _treat(inv, "乙女士", codes_a[1])
    _treat(inv, "丙女士", codes_b[0])
    return line_a.lot, line_b.lot, codes_a


def _decide(inv: Inv, lot: Lot) -> Any:
    req = inv.clinic.request(products=(snapshot_product(lot.pk, 50),))
    return authz.check(inv.actor("li"), req).decision


def test_recalling_a_lot_denies_the_next_check_quarantines_lists_clients_and_notifies_once(
    inv: Inv, django_capture_on_commit_callbacks
):
    lot_a, lot_b, codes_a = _world(inv)
    assert _decide(inv, lot_a).allowed  # warm snapshot: the recall must invalidate it
    zhao = inv.actor("zhao")
    with django_capture_on_commit_callbacks(execute=True):
        notice = recall.recall_lot(zhao, lot_a.pk, level=1, reason="无菌检查不合格")
    decision = _decide(inv, lot_a)
    assert not decision.allowed and "LOT_RECALLED" in decision.codes()
    assert _decide(inv, lot_b).allowed  # only the recalled lot

    lot_a.refresh_from_db()
    assert (lot_a.status, lot_a.recall_level, lot_a.quantity) == ("recalled", 1, Decimal(3))
    quarantine = StorageLocation.objects.get(institution=inv.clinic.jia, kind="quarantine")
    moved = StockMovement.objects.filter(lot=lot_a, kind__in=("transfer_out", "transfer_in"))
    assert sorted((m.kind, m.location_id, m.quantity) for m in moved) == [
        ("transfer_in", quarantine.pk, Decimal(3)),
        ("transfer_out", inv.fridge.pk, Decimal(-3)),
    ]
    assert set(TraceCode.objects.filter(code__in=codes_a[2:]).values_list("location_id", flat=True)) == {
        quarantine.pk
    }
    row = RecallLot.objects.get(notice=notice)
    assert (row.lot_id, row.quarantine_id, row.quarantined) == (lot_a.pk, quarantine.pk, Decimal(3))
    assert (notice.source, notice.level, notice.lot_nos) == ("internal", 1, [lot_a.lot_no])

    clients = recall.affected_clients(zhao, [row])
    assert sorted((c.name, c.lot_no) for c in clients) == [("乙女士", lot_a.lot_no), ("甲女士", lot_a.lot_no)]
    assert {c.name for c in clients} == {"甲女士", "乙女士"} and all(
        c.phone.startswith("138") for c in clients
    )
    assert recall.affected_clients(inv.actor("wang"), [row]) == []  # the admin sees counts, not contacts
    assert recall.client_counts([lot_a.pk, lot_b.pk]) == {lot_a.pk: 2, lot_b.pk: 1}

    sent = Notification.objects.filter(kind="inventory", dedupe_key__startswith="inventory-recall:")
    assert list(sent.values_list("recipient_id", flat=True)) == [inv.clin.world.users["zhao"].pk]
    assert recall._notify(notice, [inv.clinic.jia.pk]) == 0  # once per notice and institution


def test_a_maker_notice_for_several_lots_and_a_bad_lot_reported_by_position(inv: Inv):
    lot_a, lot_b, _codes = _world(inv)
    zhao = inv.actor("zhao")
    data: dict[str, Any] = {
        "level": 2,
        "source": "maker",
        "reason": "标签印刷错误",
        "reference_no": "ZH-2026-001",
        "lot_nos": [lot_a.lot_no, "NOPE", lot_b.lot_no],
    }
    with pytest.raises(FieldErrors) as exc:
        recall.create_notice(
            zhao, product_id=inv.clinic.toxin.pk, institution_id=inv.clinic.jia.pk, data=data
        )
    assert list(exc.value.errors) == ["lot_nos[1]"]
    assert not RecallNotice.objects.exists() and Lot.objects.get(pk=lot_a.pk).status == "available"

    data["lot_nos"] = [lot_a.lot_no, lot_b.lot_no]
    notice = recall.create_notice(
        zhao, product_id=inv.clinic.toxin.pk, institution_id=inv.clinic.jia.pk, data=data
    )
    rows = recall.recall_lots(zhao, notice)
    assert sorted(r.lot.lot_no for r in rows) == sorted([lot_a.lot_no, lot_b.lot_no])
    assert {c.name for c in recall.affected_clients(zhao, rows)} == {"甲女士", "乙女士", "丙女士"}
    assert set(Lot.objects.filter(pk__in=[lot_a.pk, lot_b.pk]).values_list("recall_level", flat=True)) == {2}


@pytest.mark.parametrize("level,days", [(1, 1), (2, 3), (3, 7)])
def test_the_clock_per_level(inv: Inv, level: int, days: int):
    inv.box(2)
    issued = dt.date(2026, 3, 2)
    received = timezone.make_aware(dt.datetime(2026, 3, 3, 9, 0))
    notice = recall.create_notice(
        inv.actor("zhao"),
        product_id=inv.clinic.toxin.pk,
        institution_id=inv.clinic.jia.pk,
        data={
            "level": level,
            "source": "regulator",
            "reason": "监管通知",
            "lot_nos": ["T2026R1"],
            "issued_on": issued,
            "received_at": received,
        },
    )
    due = issued + dt.timedelta(days=days)
    assert notice.due_on == due
    rows = recall.recall_lots(inv.actor("zhao"), notice)
    assert recall.parts(notice, rows, today=due)[0].state == "open"
    assert recall.parts(notice, rows, today=due + dt.timedelta(days=1))[0].state == "overdue"

    reminded = recall.remind_overdue(due + dt.timedelta(days=1))
    assert reminded == {"overdue_recalls": 1, "recall_reminders": 1}
    assert recall.remind_overdue(due + dt.timedelta(days=2))["recall_reminders"] == 0  # once
    assert recall.remind_overdue(due)["overdue_recalls"] == 0

    recall.complete(inv.actor("zhao"), notice.pk, institution_id=inv.clinic.jia.pk, note="已电话告知")
    rows = recall.recall_lots(inv.actor("zhao"), notice)
    done_on = timezone.localdate(rows[0].completed_at)
    expected = "done" if done_on <= due else "done_late"
    assert recall.parts(notice, rows, today=due + dt.timedelta(days=30))[0].state == expected
    assert recall.remind_overdue(due + dt.timedelta(days=40))["overdue_recalls"] == 0


def test_dispose_return_and_destroy_and_the_report(inv: Inv):
    lot_a, _lot_b, _codes = _world(inv)
    zhao = inv.actor("zhao")
    notice = recall.recall_lot(zhao, lot_a.pk, level=2, reason="包装密封不良")
    row = RecallLot.objects.get(notice=notice)
    recall.dispose(zhao, row.pk, disposal="returned", quantity=2, reason="退回华东医药")
    recall.dispose(zhao, row.pk, disposal="destroyed", quantity=1, reason="破损销毁")
    with pytest.raises(FieldErrors) as exc:
        recall.dispose(zhao, row.pk, disposal="destroyed", quantity=1, reason="再销毁")
    assert list(exc.value.errors) == ["quantity"]
    kinds = StockMovement.objects.filter(lot=lot_a, location=row.quarantine).values_list("kind", "quantity")
    assert sorted(kinds) == [
        ("scrap", Decimal(-1)),
        ("supplier_return", Decimal(-2)),
        ("transfer_in", Decimal(3)),
    ]
    lot_a.refresh_from_db()
    assert lot_a.quantity == 0

    data = recall_report.report_data(zhao, notice.pk)
    [part] = data.parts
    assert (part.quarantined, part.returned, part.destroyed, part.in_quarantine, part.clients) == (
        3,
        2,
        1,
        0,
        2,
    )
    assert len(data.contacts) == 2  # the institution's own compliance officer

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(recall_report.render_xlsx(zhao, notice.pk)))
    assert wb.sheetnames == ["召回概要", "各机构处理情况", "受影响求美者"]
    rows = list(wb["各机构处理情况"].iter_rows(values_only=True))
    assert rows[1][0] == inv.clinic.jia.name and rows[1][2] == 3 and rows[1][5] == 2
    assert {r[1] for r in list(wb["受影响求美者"].iter_rows(values_only=True))[1:]} == {"甲女士", "乙女士"}
    regulator = load_workbook(io.BytesIO(recall_report.render_xlsx(inv.actor("wang"), notice.pk)))
    assert "受影响求美者" not in regulator.sheetnames  # counts only without the contact role
    assert recall_report.render_pdf(zhao, notice.pk).startswith(b"%PDF")


def test_another_institution_sees_only_its_own_part(inv: Inv):
    lot_a, _lot_b, _codes = _world(inv)
    yi = inv.clinic.yi
    yi_lot = reg.create_lot(
        SYSTEM,
        institution_id=yi.pk,
        product_id=inv.clinic.toxin.pk,
        lot_no=lot_a.lot_no,
        expiry_date=FAR,
        unit="piece",
    )
    own = recall.recall_lot(inv.actor("zhao"), lot_a.pk, level=3, reason="本机构发现异物")
    sun = inv.clin.world.actor("sun")
    assert list(recall.notices(sun)) == []
    with pytest.raises(NotFoundField):
        recall.notice(sun, own.pk)

    shared = recall.create_notice(
        SYSTEM,
        product_id=inv.clinic.toxin.pk,
        institution_id=None,
        data={"level": 1, "source": "regulator", "reason": "国家局通告", "lot_nos": [lot_a.lot_no]},
    )
    assert [n.pk for n in recall.notices(sun)] == [shared.pk]
    assert [r.lot_id for r in recall.recall_lots(sun, shared)] == [yi_lot.pk]
    assert {r.lot_id for r in recall.recall_lots(inv.actor("zhao"), shared)} == {lot_a.pk}
    assert recall.affected_clients(sun, recall.recall_lots(sun, shared)) == []
    told = Notification.objects.filter(dedupe_key__startswith=f"inventory-recall:{shared.pk}:")
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted(
        [inv.clin.world.users["zhao"].pk, inv.clin.world.users["sun"].pk]
    )
    with pytest.raises(NotFoundField):
        recall.dispose(
            sun,
            RecallLot.objects.get(notice=shared, lot=lot_a).pk,
            disposal="returned",
            quantity=1,
            reason="x",
        )
    with pytest.raises(FieldErrors):  # only platform administrators issue a notice for every institution
        recall.create_notice(
            inv.actor("zhao"),
            product_id=inv.clinic.toxin.pk,
            institution_id=None,
            data={"level": 1, "source": "maker", "reason": "x", "lot_nos": [lot_a.lot_no]},
        )


def post(c: Any, path: str, body: dict[str, Any]) -> Any:
    return c.post(BASE + path, data=json.dumps(body), content_type="application/json")


def test_api_recall_flow_and_strict_errors(inv: Inv):
    lot_a, _lot_b, _codes = _world(inv)
    c = inv.clin.world.client("zhao")
    body = {
        "institution_id": inv.clinic.jia.pk,
        "product_id": inv.clinic.toxin.pk,
        "level": 1,
        "source": "maker",
        "reason": "无菌检查不合格",
        "reference_no": "ZH-1",
        "lot_nos": [lot_a.lot_no],
    }
    assert post(c, "/recalls", {**body, "surprise": 1}).status_code == 422
    assert post(c, "/recalls", {**body, "level": 4}).status_code == 422
    bad = post(c, "/recalls", {**body, "lot_nos": [lot_a.lot_no, "NOPE"]})
    assert bad.status_code == 422 and bad.json()["field"] == "lot_nos[1]"
    assert not RecallNotice.objects.exists()

    created = post(c, "/recalls", body)
    assert created.status_code == 201, created.content
    out = created.json()
    assert out["level"] == 1 and out["clock"] == "open" and len(out["lots"]) == 1
    lot_row = out["lots"][0]
    assert lot_row["quarantined"] == "3" and lot_row["clients"] == 2

    got = c.get(f"{BASE}/recalls/{out['id']}/clients").json()
    assert {r["name"] for r in got} == {"甲女士", "乙女士"}
    assert inv.clin.world.client("wang").get(f"{BASE}/recalls/{out['id']}/clients").json() == []
    assert c.get(f"{BASE}/recalls").json()["count"] == 1
    assert inv.clin.world.client("sun").get(f"{BASE}/recalls/{out['id']}").status_code == 404

    disposal = post(
        c,
        f"/recall-lots/{lot_row['id']}/dispose",
        {"disposal": "returned", "quantity": "3", "reason": "退回"},
    )
    assert disposal.status_code == 200 and disposal.json()["returned"] == "3"
    assert (
        post(
            c, f"/recall-lots/{lot_row['id']}/dispose", {"disposal": "burn", "quantity": "1", "reason": "x"}
        ).status_code
        == 422
    )
    done = post(c, f"/recalls/{out['id']}/complete", {"institution_id": inv.clinic.jia.pk, "note": "已告知"})
    assert done.status_code == 200 and done.json()["clock"] == "done"
    again = post(c, f"/recalls/{out['id']}/complete", {"institution_id": inv.clinic.jia.pk})
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_COMPLETED"
    assert c.get(f"{BASE}/recalls/{out['id']}/report.xlsx").status_code == 200


def test_affected_clients_is_one_query(inv: Inv, django_assert_num_queries):
    lot_a, _lot_b, _codes = _world(inv)
    zhao = inv.actor("zhao")
    notice = recall.recall_lot(zhao, lot_a.pk, level=1, reason="无菌检查不合格")
    rows = recall.recall_lots(zhao, notice)
    with django_assert_num_queries(1):
        assert len(recall.affected_clients(zhao, rows)) == 2


def test_pages_recall_a_lot_list_clients_dispose_complete(inv: Inv):
    lot_a, _lot_b, _codes = _world(inv)
    c = inv.clin.world.client("zhao")
    page = c.get(f"/inventory/lots/{lot_a.pk}/")
    assert page.status_code == 200 and f"/inventory/lots/{lot_a.pk}/recall/" in page.content.decode()
    bad = c.post(f"/inventory/lots/{lot_a.pk}/recall/", {"level": "", "reason": ""})
    assert bad.status_code == 422 and "召回级别" in bad.content.decode()
    assert Lot.objects.get(pk=lot_a.pk).status == "available"
    done = c.post(f"/inventory/lots/{lot_a.pk}/recall/", {"level": "1", "reason": "无菌检查不合格"})
    notice = RecallNotice.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/inventory/recalls/{notice.pk}/"

    detail = c.get(done["Location"]).content.decode()
    assert "甲女士" in detail and "乙女士" in detail and "丙女士" not in detail
    assert "医疗器械召回管理办法" in detail and "seed" not in detail.lower()
    admin = inv.clin.world.client("wang").get(done["Location"]).content.decode()
    assert "甲女士" not in admin and "2 位求美者" in admin
    assert inv.clin.world.client("sun").get(done["Location"]).status_code == 404

    listed = c.get(f"/inventory/recalls/?institution={inv.clinic.jia.pk}").content.decode()
    assert f"/inventory/recalls/{notice.pk}/" in listed and 'data-state="open"' in listed
    RecallNotice.objects.filter(pk=notice.pk).update(due_on=timezone.localdate() - dt.timedelta(days=1))
    listed = c.get(f"/inventory/recalls/?institution={inv.clinic.jia.pk}").content.decode()
    assert 'data-state="overdue"' in listed and 'role="alert"' in listed

    row = RecallLot.objects.get()
    over = c.post(
        f"/inventory/recalls/{notice.pk}/lots/{row.pk}/dispose/",
        {"disposal": "returned", "quantity": "9", "reason": "退回"},
    )
    assert over.status_code == 422
    ok = c.post(
        f"/inventory/recalls/{notice.pk}/lots/{row.pk}/dispose/",
        {"disposal": "returned", "quantity": "3", "reason": "退回"},
    )
    assert ok.status_code == 302 and RecallLot.objects.get().returned == 3
    fin = c.post(
        f"/inventory/recalls/{notice.pk}/complete/",
        {"institution_id": inv.clinic.jia.pk, "note": "已电话告知"},
    )
    assert fin.status_code == 302 and RecallLot.objects.get().completed_at is not None
    assert 'data-state="done_late"' in c.get(fin["Location"]).content.decode()
    assert c.get(f"/inventory/recalls/{notice.pk}/report.pdf")["Content-Type"] == "application/pdf"

    new = c.post(
        f"/inventory/recalls/new/?institution={inv.clinic.jia.pk}",
        {
            "product_id": inv.clinic.toxin.pk,
            "lot_nos": "T2026R2\nNOPE",
            "level": "3",
            "source": "maker",
            "reason": "x",
        },
    )
    assert new.status_code == 422 and "NOPE" in new.content.decode()


def test_the_daily_lot_job_reminds_of_overdue_recalls_once(inv: Inv):
    from meiguard.lifecycle import actions as lifecycle

    inv.box(2)
    notice = recall.create_notice(
        inv.actor("zhao"),
        product_id=inv.clinic.toxin.pk,
        institution_id=inv.clinic.jia.pk,
        data={"level": 1, "source": "maker", "reason": "无菌检查不合格", "lot_nos": ["T2026R1"]},
    )
    late = notice.due_on + dt.timedelta(days=1)
    counts = lifecycle.run_job("flag_expired_lots", late.isoformat())
    assert (counts["overdue_recalls"], counts["recall_reminders"]) == (1, 1)
    reminder = Notification.objects.get(
        dedupe_key=f"inventory-recall-overdue:{notice.pk}:{inv.clinic.jia.pk}"
    )
    assert reminder.recipient_id == inv.clin.world.users["zhao"].pk and "召回已超时未完成" in reminder.title
    assert (
        lifecycle.run_job("flag_expired_lots", (late + dt.timedelta(days=1)).isoformat())["recall_reminders"]
        == 0
    )


def test_recall_schema_names_are_unique_across_the_api_modules():
    """core/tests/test_schema_names.py scans ``<app>.api`` modules; the recall schemas live in recall_api."""
    import importlib
    import inspect

    from django.apps import apps
    from pydantic import BaseModel

    from meiguard.inventory import recall_api

    def names(module: Any) -> set[str]:
        return {
            n
            for n, obj in vars(module).items()
            if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__
        }

    ours = names(recall_api)
    assert "RecallOut" in ours
    for config in apps.get_app_configs():
        if config.name.startswith("meiguard."):
            try:
                module = importlib.import_module(f"{config.name}.api")
            except ModuleNotFoundError:
                continue
            assert not ours & names(module), config.name
