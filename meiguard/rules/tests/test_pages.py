"""Server-rendered pages: packs, a version's rules and procedure table, version diff."""

from __future__ import annotations

import pytest
from django.test import Client

from .helpers import load_and_publish, national_v2

pytestmark = pytest.mark.django_db


def test_pages_require_sign_in(builtin):
    for url in ["/rules/", "/rules/cn-national/v1/", "/rules/cn-national/diff/"]:
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_pack_list_shows_packs_and_versions(world, builtin):
    response = world.client("li").get("/rules/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "全国基线" in html
    assert "北京" in html
    assert 'href="/rules/cn-national/v1/"' in html
    assert "已发布" in html


def test_pack_list_in_english(world, builtin):
    html = world.client("li").get("/rules/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "CN national" in html
    assert "Rule packs" in html


def test_version_page_lists_procedures_and_rules(world, builtin):
    response = world.client("li").get("/rules/cn-national/v1/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "共 94 项" in html
    assert "surg-brow-lift" in html
    assert "IN-03.clinic" in html
    # Rules are cited by document: the 2009 grading catalog with its number, the Measures.
    assert "《医疗美容项目分级管理目录》" in html and "卫办医政发〔2009〕220号" in html
    assert "《医疗美容服务管理办法》" in html
    assert "seed 004" not in html
    # Institution-level rules are on the institution template's page now.
    template = world.client("li").get("/rules/inst-template/v1/").content.decode()
    assert "机构设定" in template
    assert "《2026年医疗美容服务年度工作计划(某医疗美容机构)》" in template


def test_version_page_filters_by_grade_and_subject(world, builtin):
    client = world.client("li")
    response = client.get("/rules/cn-national/v1/", {"subject": "cosmetic_surgery", "grade": "4"})
    html = response.content.decode()
    assert "共 6 项" in html
    assert "surg-zygoma-reduction" in html or "颧骨降低术" in html
    assert "surg-brow-lift" not in html
    partial = client.get(
        "/rules/cn-national/v1/", {"grade": "0", "subject": "cosmetic_tcm"}, HTTP_HX_REQUEST="true"
    )
    body = partial.content.decode()
    assert "共 10 项" in body
    assert "<html" not in body


def test_version_page_for_unknown_version_is_404(world, builtin):
    assert world.client("li").get("/rules/cn-national/v9/").status_code == 404


def test_overlay_version_page_shows_its_changes(world, builtin):
    html = world.client("li").get("/rules/cn-bj/v1/").content.decode()
    assert "PR-06.cosmetic_surgery" in html
    assert "修改" in html
    assert "《北京市卫生健康委员会 医疗美容主诊医师专业备案问答》" in html


def test_diff_page_shows_added_removed_and_changed(world, builtin, pack_copy):
    load_and_publish(national_v2(pack_copy))
    response = world.client("li").get("/rules/cn-national/diff/", {"a": "1", "b": "2"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "cn-national v1 → cn-national v2" in html
    assert "新增 1 条" in html and "TEST.new-requirement" in html
    assert "删除 1 条" in html and "procedure.surg-eyebrow-reshaping" in html
    assert "修改 2 条" in html
    assert 'id="changed-procedure.surg-brow-lift"' in html
    assert "data.value" in html and "25" in html and "30" in html


def test_diff_page_without_a_choice_shows_the_form(world, builtin):
    html = world.client("li").get("/rules/cn-national/diff/").content.decode()
    assert 'name="a"' in html and 'name="b"' in html
    assert "此规则包只有一个版本" in html


def test_diff_page_for_unknown_pack_is_404(world, builtin):
    assert world.client("li").get("/rules/cn-xx/diff/").status_code == 404
