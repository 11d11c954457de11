"""/lifecycle/ (list, filters, htmx, pagination, Excel) and /api/v1/lifecycle/."""

from io import BytesIO

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from meiguard.lifecycle import actions
from meiguard.lifecycle.choices import Job
from meiguard.lifecycle.models import JobRun

from .conftest import days, expire_licence_in, new_lot

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


@pytest.fixture
def items(c):
    expire_licence_in(c, 30, today())
    lot = new_lot(c, days(5, today()))
    sun_lot = new_lot(c, days(5, today()), institution_id=c.yi.pk)
    return {"lot": lot, "sun_lot": sun_lot}


def test_staff_see_their_items_and_not_other_tenants(c, world, items):
    page = world.client("zhao").get("/lifecycle/").content.decode()
    assert "李医生" in page and items["lot"].lot_no in page
    assert items["sun_lot"].lot_no not in page
    assert 'href="/static/lifecycle/lifecycle.css"' in page
    other = world.client("sun").get("/lifecycle/").content.decode()
    assert items["sun_lot"].lot_no in other and "李医生" not in other and items["lot"].lot_no not in other


def test_anonymous_users_are_sent_to_login(db, client):
    assert client.get("/lifecycle/").status_code == 302
    assert client.get("/lifecycle/export.xlsx").status_code == 302


def test_filters_by_kind_bucket_and_institution(c, world, items):
    client = world.client("zhao")
    by_kind = client.get("/lifecycle/?kind=lot").content.decode()
    assert items["lot"].lot_no in by_kind and "执业证书" not in by_kind
    by_bucket = client.get("/lifecycle/?bucket=30").content.decode()
    assert "执业证书" in by_bucket and items["lot"].lot_no not in by_bucket
    foreign = client.get(f"/lifecycle/?institution={c.yi.pk}").content.decode()
    assert "所选范围内没有即将到期的事项" in foreign
    junk = client.get("/lifecycle/?kind=nope&bucket=8&institution=x&within=7&page=zz")
    assert junk.status_code == 200 and items["lot"].lot_no in junk.content.decode()


def test_htmx_swaps_only_the_results(c, world, items):
    resp = world.client("zhao").get("/lifecycle/?kind=lot", headers={"HX-Request": "true"})
    body = resp.content.decode()
    assert items["lot"].lot_no in body and "<html" not in body and "最近的定时任务" not in body


def test_pagination(c, world):
    for n in range(30):
        new_lot(c, days(1 + n, today()))
    client = world.client("zhao")
    first = client.get("/lifecycle/?kind=lot").content.decode()
    assert "第 1 / 2 页,共 30 条" in first and 'rel="next"' in first
    second = client.get("/lifecycle/?kind=lot&page=2").content.decode()
    assert "第 2 / 2 页" in second


def test_reminders_already_sent_are_shown(c, world, items, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        actions.run_job("scan_expiries", today().isoformat())
    page = world.client("zhao").get("/lifecycle/?kind=lot").content.decode()
    assert "7 天</td>" in page.replace("\n", "")


def test_recent_runs_are_shown_with_counts_only_for_platform_admins(
    c, world, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_scheduler", "--once", stdout=None)
    staff = world.client("zhao").get("/lifecycle/").content.decode()
    assert "到期提醒扫描" in staff and "已完成" in staff and "already_sent=" not in staff
    admin = world.users["wang"]
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    assert "already_sent=" in world.client("wang").get("/lifecycle/").content.decode()


def test_excel_export_has_the_filtered_rows(c, world, items):
    resp = world.client("zhao").get("/lifecycle/export.xlsx?kind=lot")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in resp["Content-Disposition"]
    ws = load_workbook(BytesIO(resp.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:6] == ("类型", "事项", "持有人", "机构", "到期日", "剩余天数")
    assert len(rows) == 2
    kind, label, holder, inst, expires, left, bucket, link = rows[1]
    assert (kind, label, holder, inst, left, bucket) == (
        "批次效期",
        f"衡力 {items['lot'].lot_no}",
        "甲诊所",
        "甲诊所",
        5,
        7,
    )
    assert expires.date() == days(5, today())
    assert link.endswith(f"/registry/lots/{items['lot'].pk}/")


def test_excel_export_never_writes_a_live_formula(db):
    import dataclasses

    from meiguard.lifecycle.exporters import expiring_xlsx
    from meiguard.lifecycle.queries import ExpiringItem

    item = ExpiringItem("lot", "批次效期", '=HYPERLINK("http://x")', "@SUM(1)", 1, None, today(), 0, 7, "")
    ws = load_workbook(BytesIO(expiring_xlsx([item, dataclasses.replace(item, label="+1")]))).active
    assert [ws.cell(row=r, column=2).value for r in (2, 3)] == ['\'=HYPERLINK("http://x")', "'+1"]
    assert ws.cell(row=2, column=3).value == "'@SUM(1)"
    assert all(ws.cell(row=r, column=2).data_type == "s" for r in (2, 3))


def test_excel_export_respects_tenancy(c, world, items):
    ws = load_workbook(BytesIO(world.client("sun").get("/lifecycle/export.xlsx").content)).active
    labels = [r[1] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert labels == [f"衡力 {items['sun_lot'].lot_no}"]


def test_api_lists_expiring_items(c, world, items):
    data = world.client("zhao").get("/api/v1/lifecycle/expiring?kind=lot").json()
    assert [(d["kind"], d["object_id"], d["days_left"], d["bucket"]) for d in data] == [
        ("lot", items["lot"].pk, 5, 7)
    ]
    by_person = world.client("zhao").get(f"/api/v1/lifecycle/expiring?practitioner_id={c.li.pk}").json()
    assert [d["kind"] for d in by_person] == ["qualification"]
    assert world.client("sun").get(f"/api/v1/lifecycle/expiring?institution_id={c.jia.pk}").json() == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bucket=8", "bucket"),
        ("kind=nope", "kind"),
        ("within_days=-1", "within_days"),
        ("on=2026-13-01", "on"),
    ],
)
def test_api_rejects_bad_filters_with_422(c, world, query, field):
    resp = world.client("zhao").get(f"/api/v1/lifecycle/expiring?{query}")
    assert resp.status_code == 422
    assert resp.json()["field"] == field


def test_api_runs_hide_counts_from_non_admins(c, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        actions.enqueue_daily(actions.SCHEDULER, on=today())
    data = world.client("zhao").get("/api/v1/lifecycle/runs").json()
    assert {d["job"] for d in data} == set(Job.values)
    assert all(d["counts"] is None and d["status"] == "succeeded" for d in data)
    assert JobRun.objects.count() == len(Job.values)
    assert world.client("zhao").get("/api/v1/lifecycle/runs?limit=0").status_code == 422
    assert len(world.client("zhao").get("/api/v1/lifecycle/runs?limit=2").json()) == 2


def test_the_page_speaks_english(c, world, items):
    page = world.client("zhao").get("/lifecycle/", headers={"Accept-Language": "en"}).content.decode()
    assert "Expiry reminders" in page and "Export to Excel" in page and "Lot expiry" in page
    assert "5 days" in page
