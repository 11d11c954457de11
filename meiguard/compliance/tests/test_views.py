"""Pages, downloads and API of the monthly report: tenancy (404 for another institution, 403 for a doctor),
the association roll-up with members off target highlighted, the PDF in CJK, the Excel read back."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook

from meiguard.compliance import actions, reports
from meiguard.compliance.models import MonthlyReport, Rectification
from meiguard.reviews.tests.test_reports import _text

from .conftest import BREAST, NOV, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(clin, clock, liu):
    clock.set(local(2026, 11, 12, 9))
    case = clin.ready(BREAST)
    from meiguard.clinical import actions as clinical

    clinical.open_record(clin.actor("zhou"), case.pk)  # node 1 only: coverage 0 %
    clock.set(local(2026, 12, 1, 1))
    actions.generate_monthly(dt.date(2026, 12, 1))
    return MonthlyReport.objects.get(institution=clin.clinic.jia, month=NOV)


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_the_page_shows_figures_targets_sources_charts_and_the_warning(clin, report):
    page = clin.world.client("zhao").get(f"/compliance/reports/{report.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-figure="checklist_coverage" data-value="0.0%" data-status="off_target"' in html
    assert "《2026年医疗美容服务年度工作计划" in html and "机构规范" in html and "seed" not in html.lower()
    assert html.count('role="img"') >= 2  # the target chart and the trend charts
    assert "整改完成,关闭" in html  # 授权专员 may close
    assert "/compliance/" in clin.world.client("zhao").get("/").content.decode()


def test_tenancy_other_institution_404_doctor_403_auditor_reads(clin, report, world):
    assert world.client("sun").get(f"/compliance/reports/{report.pk}/").status_code == 404
    assert world.client("sun").get(f"/api/v1/compliance/reports/{report.pk}").status_code == 404
    listed = world.client("sun").get("/api/v1/compliance/reports").json()
    assert report.pk not in [r["id"] for r in listed["items"]]
    assert world.client("li").get("/compliance/").status_code == 403
    assert world.client("li").get("/api/v1/compliance/reports").status_code == 403
    html = world.client("qian").get(f"/compliance/reports/{report.pk}/").content.decode()
    assert "整改完成,关闭" not in html  # the association reads only
    item = Rectification.objects.get(institution=clin.clinic.jia)
    r = post(world.client("qian"), f"/api/v1/compliance/rectifications/{item.pk}/close", {"note": "x"})
    assert r.status_code == 403
    r = post(world.client("sun"), f"/api/v1/compliance/rectifications/{item.pk}/close", {"note": "x"})
    assert r.status_code == 404


def test_the_api_lists_gets_generates_and_closes(clin, report, world, clock):
    c = world.client("zhao")
    listed = c.get("/api/v1/compliance/reports?month=2026-11").json()
    assert [r["id"] for r in listed["items"]] == [report.pk]
    detail = c.get(f"/api/v1/compliance/reports/{report.pk}").json()
    fig = {f["code"]: f for f in detail["figures"]}
    assert fig["checklist_coverage"]["status"] == "off_target"
    assert fig["loss_to_follow_up"]["target"] == {
        "value": 5,
        "comparison": "lte",
        "source": fig["loss_to_follow_up"]["target"]["source"],
        "set_by_institution": False,
    }
    assert detail["rectifications"][0]["due_on"] == "2026-12-31"
    clock.set(local(2026, 12, 3, 9))
    c = world.client("zhao")  # a fresh session at the new time (idle sessions expire)
    r = post(c, "/api/v1/compliance/reports", {"institution_id": clin.clinic.jia.pk, "month": "2026-11"})
    assert r.status_code == 201 and r.json()["version"] == 2
    r = post(c, "/api/v1/compliance/reports", {"institution_id": clin.clinic.jia.pk, "month": "2026-13"})
    assert r.status_code == 422
    r = post(c, "/api/v1/compliance/reports", {"institution_id": clin.clinic.jia.pk, "month": "2026-12"})
    assert r.status_code == 422 and r.json()["code"] == "MONTH_NOT_OVER"
    r = post(
        c, "/api/v1/compliance/reports", {"institution_id": clin.clinic.jia.pk, "month": "2026-11", "x": 1}
    )
    assert r.status_code == 422
    item = detail["rectifications"][0]["id"]
    r = post(c, f"/api/v1/compliance/rectifications/{item}/close", {"note": ""})
    assert r.status_code == 422
    r = post(c, f"/api/v1/compliance/rectifications/{item}/close", {"note": "补签"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = post(c, f"/api/v1/compliance/rectifications/{item}/close", {"note": "补签"})
    assert r.status_code == 409
    en = c.get(f"/api/v1/compliance/reports/{report.pk}", HTTP_ACCEPT_LANGUAGE="en").json()
    assert {f["code"]: f for f in en["figures"]}["checklist_coverage"][
        "label"
    ] == "Surgical safety checklist coverage"


def test_the_rollup_shows_members_side_by_side_with_those_off_target_highlighted(clin, report, world):
    r = world.client("qian").get("/compliance/rollup/?month=2026-11")
    assert r.status_code == 200
    html = r.content.decode()
    assert "甲诊所" in html and "乙医院" not in html  # only the members the association oversees
    assert f'data-institution="{clin.clinic.jia.pk}" data-status="off_target"' in html
    assert world.client("zhao").get("/compliance/rollup/").status_code == 403
    api = world.client("qian").get("/api/v1/compliance/rollup?month=2026-11").json()
    coverage = next(f for f in api if f["code"] == "checklist_coverage")
    assert coverage["off_target"] == 1 and coverage["total"] == "0.0% (0/1)"


def test_the_pdf_renders_chinese_with_a_cjk_font_and_the_excel_opens(clin, report, world):
    pdf = reports.render_pdf(report)
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert "\ufffd" not in text
    for expected in ("甲诊所", "月度合规报告", "手术安全核查覆盖率", "2026-11"):
        assert expected in text, expected
    wb = load_workbook(io.BytesIO(reports.render_xlsx(report)))
    assert wb.sheetnames == ["指标", "整改事项", "概要"]
    rows = list(wb["指标"].iter_rows(values_only=True))
    assert rows[1][0] == "手术安全核查覆盖率" and rows[1][1] == "0.0%" and rows[1][4] == "未达标"
    assert "2026-11" in [r[0] for r in wb["整改事项"].iter_rows(values_only=True)]
    c = world.client("zhao")
    assert c.get(f"/compliance/reports/{report.pk}/report.xlsx").status_code == 200
    r = c.get(f"/api/v1/compliance/reports/{report.pk}/report.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"


def test_the_page_in_english_and_the_trend_from_stored_reports(clin, report, world, clock):
    clock.set(local(2027, 1, 1, 1))
    actions.generate_monthly(dt.date(2027, 1, 1))
    december = MonthlyReport.objects.get(institution=clin.clinic.jia, month=dt.date(2026, 12, 1))
    c = world.client("zhao")
    html = c.get(f"/compliance/reports/{december.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Surgical safety checklist coverage" in html and "Monthly compliance report" in html
    assert "2026 annual work plan" in html  # the target's source in English
    # The trend of checklist coverage: November (0 %) from its stored report, December without surgery.
    assert "2026-11 0.0%" in html and "2026-12 —" in html
