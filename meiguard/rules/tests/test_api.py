"""/api/v1/rules: packs, a version's rules and procedures, diff, resolve; errors in the envelope."""

from __future__ import annotations

import pytest
from django.test import Client

from .helpers import load_and_publish, national_v2

pytestmark = pytest.mark.django_db

BASE = "/api/v1/rules"


@pytest.fixture
def client(world, builtin):
    return world.client("li")


def test_it_requires_sign_in(builtin):
    response = Client().get(f"{BASE}/packs")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_it_lists_packs_and_versions(client):
    response = client.get(f"{BASE}/packs")
    assert response.status_code == 200
    packs = {p["code"]: p for p in response.json()}
    assert set(packs) == {"cn-national", "inst-template", "cn-bj"}
    assert packs["inst-template"]["jurisdiction"] == "institution"
    assert packs["cn-bj"]["extends"] == "cn-national"
    assert packs["cn-bj"]["province"] == "北京"
    national = packs["cn-national"]["versions"][0]
    assert national["version"] == 1
    assert national["status"] == "published"
    assert national["effective_from"] == "2017-03-17"
    assert national["rule_count"] == 133


def test_any_signed_in_user_may_read(world, builtin):
    assert world.client("sun").get(f"{BASE}/packs").status_code == 200
    assert world.client("qian").get(f"{BASE}/packs/cn-national/versions/1").status_code == 200


def test_it_returns_a_versions_rules_filtered_by_kind(client):
    response = client.get(f"{BASE}/packs/inst-template/versions/1", {"kind": "limit"})
    assert response.status_code == 200
    body = response.json()
    assert body["rule_count"] == 12
    assert [r["rule_id"] for r in body["rules"]] == [
        "INST.botulinum-units-per-session",
        "INST.filler-minutes-per-site",
    ]
    botox = body["rules"][0]
    assert botox["level"] == "institution"
    assert botox["adjustable"] is True
    assert botox["data"]["max_value"] == 200
    assert botox["source"].startswith("《2026年医疗美容服务年度工作计划")
    # The national pack no longer has institution limits.
    national = client.get(f"{BASE}/packs/cn-national/versions/1", {"kind": "limit"}).json()
    assert national["rules"] == []


def test_it_filters_procedures(client):
    url = f"{BASE}/packs/cn-national/versions/1/procedures"
    everything = client.get(url).json()
    assert everything["count"] == 94
    grade_4 = client.get(url, {"subject": "cosmetic_surgery", "grade": 4}).json()
    assert grade_4["count"] == 6
    assert {p["grade"] for p in grade_4["procedures"]} == {4}
    ungraded_derm = client.get(url, {"subject": "cosmetic_dermatology", "grade": 0}).json()
    assert ungraded_derm["count"] == 14
    injections = client.get(url, {"invasive": "injection"}).json()
    assert {p["invasiveness"] for p in injections["procedures"]} == {"injection"}
    search = client.get(url, {"q": "肉毒"}).json()
    assert {p["code"] for p in search["procedures"]} == {
        "surg-botulinum-toxin-a-injection",
        "derm-botulinum-toxin-injection",
    }
    first = search["procedures"][0]
    assert first["rule"]["pack"] == "cn-national"
    assert first["rule"]["rule_id"].startswith("procedure.")


def test_overlay_procedures_are_shown_on_top_of_the_base(client):
    body = client.get(f"{BASE}/packs/cn-bj/versions/1/procedures").json()
    assert body["count"] == 94
    assert body["pack"] == "cn-bj"


@pytest.mark.parametrize(
    "params", [{"grade": 7}, {"grade": "x"}, {"subject": "magic"}, {"invasive": "laser"}]
)
def test_bad_filters_give_422(client, params):
    response = client.get(f"{BASE}/packs/cn-national/versions/1/procedures", params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "INVALID"
    assert body["field"] == next(iter(params))


def test_unknown_version_gives_404_in_chinese_by_default(client):
    response = client.get(f"{BASE}/packs/cn-national/versions/9")
    assert response.status_code == 404
    assert response.json() == {
        "code": "NOT_FOUND",
        "message": "对象不存在或无权访问",
        "field": None,
        "errors": [],
    }


def test_unknown_version_gives_404_in_english_when_asked(client):
    response = client.get(f"{BASE}/packs/cn-national/versions/9", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert response.json()["message"] == "Not found or not accessible"


def test_diff_endpoint(client, pack_copy):
    load_and_publish(national_v2(pack_copy))
    response = client.get(f"{BASE}/packs/cn-national/diff", {"a": 1, "b": 2})
    assert response.status_code == 200
    body = response.json()
    assert [r["rule_id"] for r in body["added"]] == ["TEST.new-requirement"]
    assert [r["rule_id"] for r in body["removed"]] == ["procedure.surg-eyebrow-reshaping"]
    brow = next(c for c in body["changed"] if c["rule_id"] == "procedure.surg-brow-lift")
    assert {"field": "data.grade", "before": 1, "after": 2} in brow["changes"]


def test_diff_needs_both_versions(client):
    assert client.get(f"{BASE}/packs/cn-national/diff", {"a": 1}).status_code == 422
    assert client.get(f"{BASE}/packs/cn-national/diff", {"a": 1, "b": 5}).status_code == 404


def test_resolve_endpoint(client):
    body = client.get(f"{BASE}/resolve", {"province": "北京", "on": "2024-06-01"}).json()
    assert body["version_label"] == "全国基线 v1 + 北京 v1 + 机构规范模板 v1"
    assert body["procedure_count"] == 94
    rules = {r["rule_id"]: r for r in body["rules"]}
    assert rules["PR-02.cosmetic_surgery"]["data"]["min_title"] == "attending"
    assert rules["PR-02.cosmetic_surgery"]["rule"]["pack"] == "cn-bj"


def test_resolve_before_any_pack_gives_409_with_translated_message(client):
    zh = client.get(f"{BASE}/resolve", {"province": "湖南", "on": "2001-01-01"})
    assert zh.status_code == 409
    assert zh.json()["code"] == "NO_ACTIVE_RULE_PACK"
    assert zh.json()["message"] == "2001-01-01 没有已发布并生效的全国规则包(省份:湖南)"
    en = client.get(f"{BASE}/resolve", {"province": "湖南", "on": "2001-01-01"}, HTTP_ACCEPT_LANGUAGE="en")
    assert (
        en.json()["message"] == "No published national rule pack is in force on 2001-01-01 (province: 湖南)"
    )


def test_resolve_rejects_a_bad_date(client):
    response = client.get(f"{BASE}/resolve", {"province": "湖南", "on": "yesterday"})
    assert response.status_code == 422
    assert response.json()["field"] == "on"
