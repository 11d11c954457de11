"""The impact page, its Excel export and the API: who may see what (403 / 404), filters, pagination."""

# ruff: noqa: F811  (pytest fixtures imported from authz's conftest and test_impact are parameters here)

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.test import Client
from openpyxl import load_workbook

from meiguard.authz.tests.conftest import TODAY, clinic  # noqa: F401
from meiguard.rules import views

from .test_impact import LIMIT_150, candidate, scene  # noqa: F401

pytestmark = pytest.mark.django_db

ON = {"on": TODAY.isoformat()}
DERM_10_YEARS = ("min_years: 3", "min_years: 10")  # national PR-02.cosmetic_dermatology: flips 甲 and 乙


@pytest.fixture(autouse=True)
def _fresh_report_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tightened(scene, pack_copy):
    return candidate(pack_copy, DERM_10_YEARS)


def url(version, suffix: str = "impact/") -> str:
    return f"/rules/versions/{version.pk}/{suffix}"


# ---- pages --------------------------------------------------------------------------------------


def test_the_compliance_officer_sees_her_institutions_changes(world, tightened):
    response = world.client("zhao").get(url(tightened), ON)
    assert response.status_code == 200
    html = response.content.decode()
    assert "规则变更影响评估" in html
    assert "李医生" in html and "CHIEF_FILING_YEARS_SHORT" in html
    assert "《医疗美容服务管理办法》第十一条" in html  # the readable source of the added reason's rule
    assert "PR-02.cosmetic_dermatology" not in html  # never the internal id
    assert "孙医生" not in html and "乙医院" not in html  # another tenant's institution
    assert "<code>全国基线 v1 + 机构规范模板 v1</code> → <code>全国基线 v2 + 机构规范模板 v1</code>" in html
    assert f'href="/rules/versions/{tightened.pk}/impact.xlsx?' in html


def test_the_auditor_sees_the_institutions_she_oversees(world, tightened):
    html = world.client("qian").get(url(tightened), ON).content.decode()
    assert "李医生" in html
    assert "孙医生" not in html


def test_another_institutions_admin_sees_only_her_own(world, tightened):
    html = world.client("sun").get(url(tightened), ON).content.decode()
    assert "孙医生" in html
    assert "李医生" not in html


def test_doctors_and_nurses_get_403(world, tightened):
    for name in ("li", "zhang"):
        assert world.client(name).get(url(tightened), ON).status_code == 403
        assert world.client(name).get(url(tightened, "impact.xlsx"), ON).status_code == 403


def test_unknown_version_is_404_and_sign_in_is_required(world, tightened):
    assert world.client("zhao").get("/rules/versions/999999/impact/").status_code == 404
    response = Client().get(url(tightened))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_filters_and_pagination(world, tightened, monkeypatch):
    client = world.client("wang")
    all_rows = client.get(url(tightened), ON).content.decode()
    assert all_rows.count("CHIEF_FILING_YEARS_SHORT") >= 3  # the authorization and two allowed requests

    none = client.get(url(tightened), {**ON, "direction": "deny_to_allow"}).content.decode()
    assert "没有符合条件的变化" in none

    partial = client.get(url(tightened), {**ON, "direction": "allow_to_deny"}, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "<html" not in body and "李医生" in body

    monkeypatch.setattr(views, "IMPACT_PAGE_SIZE", 1)
    page2 = client.get(url(tightened), {**ON, "page": "2"}).content.decode()
    assert "第 2 / 3 页,共 3 条" in page2


def test_bad_filters_fall_back_to_defaults(world, tightened):
    response = world.client("zhao").get(
        url(tightened), {"on": "not-a-date", "institution": "x", "direction": "up"}
    )
    assert response.status_code == 200


def test_the_version_page_links_to_the_report_for_viewers_only(world, tightened):
    link = f'href="/rules/versions/{tightened.pk}/impact/"'
    assert link in world.client("zhao").get("/rules/cn-national/v2/").content.decode()
    assert link not in world.client("li").get("/rules/cn-national/v2/").content.decode()


def test_the_page_in_english(world, tightened):
    html = world.client("zhao").get(url(tightened), ON, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Rule-change impact" in html
    assert "Export to Excel" in html


def test_the_excel_download_follows_the_filters(world, tightened):
    response = world.client("zhao").get(url(tightened, "impact.xlsx"), {**ON, "direction": "allow_to_deny"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment;" in response["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == ["汇总", "明细"]
    detail = list(wb["明细"].iter_rows(values_only=True))
    assert len(detail) == 4  # header + 李医生's three rows; 孙医生 (乙医院) is not zhao's
    assert {row[2] for row in detail[1:]} == {"李医生"}


# ---- API ----------------------------------------------------------------------------------------


def api(version) -> str:
    return f"/api/v1/rules/versions/{version.pk}/impact"


def test_api_returns_the_rows_the_caller_may_see(world, tightened):
    response = world.client("zhao").get(api(tightened), ON)
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == "cn-national v2"
    assert body["status"] == "draft"
    assert body["on"] == TODAY.isoformat()
    assert body["count"] == 3
    assert body["totals"]["allow_to_deny"] == 3
    assert {r["practitioner_name"] for r in body["rows"]} == {"李医生"}
    reason = body["rows"][0]["added"][0]
    assert reason["code"] == "CHIEF_FILING_YEARS_SHORT"
    assert reason["rule"]["rule_id"] == "PR-02.cosmetic_dermatology"
    assert reason["message"]
    assert [i["name"] for i in body["institutions"]] == ["甲诊所"]

    paged = world.client("zhao").get(api(tightened), {**ON, "limit": 1, "offset": 2}).json()
    assert paged["count"] == 3 and len(paged["rows"]) == 1


def test_api_xlsx(world, tightened):
    response = world.client("zhao").get(api(tightened), {**ON, "format": "xlsx"})
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.content)).sheetnames == ["汇总", "明细"]


def test_api_refuses_doctors_and_unknown_versions(world, tightened):
    forbidden = world.client("li").get(api(tightened), ON)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "FORBIDDEN"
    missing = world.client("zhao").get("/api/v1/rules/versions/999999/impact")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"


def test_api_validates_its_parameters(world, tightened):
    for params in ({"direction": "sideways"}, {"on": "2026-13-01"}, {"format": "pdf"}, {"limit": 0}):
        response = world.client("zhao").get(api(tightened), params)
        assert response.status_code == 422, params
        assert response.json()["code"] == "INVALID"
