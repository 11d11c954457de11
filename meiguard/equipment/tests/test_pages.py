"""Pages: the list with upkeep status, the device file with its htmx record form, a record's page; role menus."""

from __future__ import annotations

import pytest

from meiguard.equipment.models import UpkeepRecord
from meiguard.registry import actions as reg

from .conftest import SYSTEM, TODAY, record

pytestmark = pytest.mark.django_db


def test_keepers_see_the_list_and_the_menu(clinic, ma):
    for username in ("wang", "zhao", "ma", "qian"):
        r = clinic.world.client(username).get("/equipment/")
        assert r.status_code == 200, username
        assert "RF-0001" in r.content.decode()
        assert 'href="/equipment/"' in r.content.decode()


def test_doctors_and_nurses_are_not_offered_the_section(clinic):
    for username in ("li", "zhang"):
        c = clinic.world.client(username)
        assert c.get("/equipment/").status_code == 403
        assert 'href="/equipment/"' not in c.get("/").content.decode()


def test_the_list_shows_overdue_and_out_of_service(clinic):
    wang = clinic.world.client("wang")
    reg.update_device(SYSTEM, clinic.device.pk, inspection_interval_days=30)  # due 2026-04-02: long past
    page = wang.get("/equipment/?state=overdue").content.decode()
    assert "RF-0001" in page and "已逾期" in page
    record(clinic, performed_on=TODAY, result="fail", findings="报警")
    page = wang.get("/equipment/?state=out_of_service").content.decode()
    assert "RF-0001" in page and "停用" in page
    assert "RF-0001" not in wang.get("/equipment/?state=overdue").content.decode()


def test_the_list_costs_the_same_queries_for_more_devices(clinic):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    wang = clinic.world.client("wang")
    wang.get("/equipment/")
    with CaptureQueriesContext(connection) as one:
        assert wang.get("/equipment/").status_code == 200
    for n in range(2, 22):
        reg.create_device(
            SYSTEM, institution_id=clinic.jia.pk, product_id=clinic.rf.pk, serial_no=f"RF-{n:04d}"
        )
    with CaptureQueriesContext(connection) as many:
        page = wang.get("/equipment/").content.decode()
    assert "RF-0021" in page
    assert len(many) == len(one), [q["sql"] for q in many.captured_queries]


def test_the_file_records_through_htmx_and_shows_the_history(clinic):
    wang = clinic.world.client("wang")
    url = f"/equipment/devices/{clinic.device.pk}/"
    page = wang.get(url).content.decode()
    assert "本机构规范" not in page or "本设备" in page  # RF-0001 has its own 365 days
    assert 'id="record-form"' in page and "能量设备" in page
    post = f"{url}records/"
    r = wang.post(
        post,
        {
            "kind": "inspection",
            "performed_on": TODAY.isoformat(),
            "result": "fail",
            "performer": "staff",
            "performed_by_id": clinic.world.users["wang"].pk,
        },
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 200  # htmx swaps only 2xx: the form comes back in place with the error
    assert r.content.decode().startswith("<form") and "须写明发现的问题" in r.content.decode()
    plain = wang.post(post, {"kind": "inspection", "performed_on": "2026-13-01", "result": "pass"})
    assert plain.status_code == 422 and "日期格式应为 YYYY-MM-DD" in plain.content.decode()
    assert not UpkeepRecord.objects.exists()
    r = wang.post(
        post,
        {
            "kind": "inspection",
            "performed_on": TODAY.isoformat(),
            "result": "fail",
            "findings": "输出偏差",
            "performer": "staff",
            "performed_by_id": clinic.world.users["wang"].pk,
        },
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 204 and r["HX-Redirect"].endswith(url)
    page = wang.get(url).content.decode()
    assert "检查未通过停用" in page and "输出偏差" not in page  # the history links to the record page
    rec = UpkeepRecord.objects.get()
    detail = wang.get(f"/equipment/records/{rec.pk}/").content.decode()
    assert "输出偏差" in detail and "wang" in detail


def test_readers_get_no_form_and_outsiders_get_404(clinic):
    url = f"/equipment/devices/{clinic.device.pk}/"
    qian = clinic.world.client("qian")
    page = qian.get(url)
    assert page.status_code == 200 and 'id="record-form"' not in page.content.decode()
    assert qian.post(f"{url}records/", {"kind": "inspection"}).status_code == 403
    sun = clinic.world.client("sun")
    assert sun.get(url).status_code == 404
    assert sun.post(f"{url}records/", {"kind": "inspection"}).status_code == 404


def test_a_blank_interval_reads_as_the_institution_policy(clinic):
    device = reg.create_device(
        SYSTEM, institution_id=clinic.jia.pk, product_id=clinic.rf.pk, serial_no="RF-0009"
    )
    page = clinic.world.client("wang").get(f"/equipment/devices/{device.pk}/").content.decode()
    assert "本机构规范:30 天" in page and "本机构规范:90 天" in page
    assert "2026年医疗美容服务年度工作计划" in page
    assert "seed" not in page.lower()


def test_the_dashboard_lists_overdue_and_out_of_service_devices(clinic, ma):
    reg.update_device(SYSTEM, clinic.device.pk, inspection_interval_days=30)  # due 2026-04-02: long past
    for username in ("wang", "ma"):
        page = clinic.world.client(username).get("/").content.decode()
        assert 'id="panel-devices"' in page and "RF-0001" in page and "2026-04-02" in page, username
    page = clinic.world.client("li").get("/").content.decode()
    assert 'id="panel-devices"' not in page
    body = clinic.world.client("ma").get("/api/v1/workspace/dashboard").json()
    assert body["devices"]["count"] == 1 and body["devices"]["items"][0]["state"] == "overdue"
