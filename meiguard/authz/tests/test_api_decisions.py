"""POST /api/v1/decisions (+ batch), the decision log and replay over HTTP."""

import json

import pytest
from django.db import transaction
from django.test import Client

from meiguard.authz.models import DecisionLog
from meiguard.core.tokens import create_token

from .conftest import SYSTEM


def _post(client, path, body, **headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def test_it_allows_with_session_auth(clinic):
    r = _post(clinic.world.client("li"), "/api/v1/decisions", clinic.payload())
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["outcome"], body["allowed"], body["reasons"]) == ("allow", True, [])
    assert DecisionLog.objects.get().pk == body["id"]


def test_it_denies_with_every_reason_in_both_languages(clinic):
    payload = clinic.payload(
        products=[{"lot_id": clinic.lot.pk, "dose_value": "250", "dose_unit": "U"}], device_ids=[]
    )
    r = _post(clinic.world.client("li"), "/api/v1/decisions", payload)
    body = r.json()
    assert body["outcome"] == "deny"
    by_code = {x["code"]: x for x in body["reasons"]}
    assert set(by_code) == {"DOSE_OVER_LIMIT"}
    reason = by_code["DOSE_OVER_LIMIT"]
    assert "250U" in reason["message"] and "超过" in reason["message"]
    assert "exceeds" in reason["messages"]["en"]
    assert reason["rule"]["rule_id"] == "INST.botulinum-units-per-session"
    # The rule is cited by the document it rests on: the institution layer's operating plan.
    assert reason["rule"]["layer"] == "institution"
    assert reason["rule"]["pack_label"] == "机构规范模板 v1"
    assert reason["rule"]["source"].startswith("《2026年医疗美容服务年度工作计划")
    (citation,) = reason["rule"]["citations"]
    assert (citation["document"], citation["kind"]) == ("operating-plan-2026", "institution_policy")
    assert citation["title"] and citation["article"] == "一(二)2"
    assert reason["facts"]["limit"] == "200U"


def test_english_message_with_accept_language(clinic):
    payload = clinic.payload(products=[{"lot_id": clinic.lot.pk, "dose_value": "250", "dose_unit": "U"}])
    r = _post(clinic.world.client("li"), "/api/v1/decisions", payload, HTTP_ACCEPT_LANGUAGE="en")
    assert "exceeds" in r.json()["reasons"][0]["message"]


def test_bearer_token_for_his_systems(clinic):
    with transaction.atomic():
        _, raw = create_token(SYSTEM, clinic.world.users["zhao"], name="HIS")
    r = _post(Client(), "/api/v1/decisions", clinic.payload(), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert r.status_code == 200
    assert DecisionLog.objects.get().actor_label == "zhao"


def test_it_refuses_anonymous(clinic):
    r = _post(Client(), "/api/v1/decisions", clinic.payload())
    assert r.status_code == 401
    assert not DecisionLog.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"institution_id": "abc"}, "institution_id"),
        ({"practitioner_id": None}, "practitioner_id"),
        ({"procedure_code": ""}, "procedure_code"),
        ({"at": "yesterday"}, "at"),
        ({"at": "2026-03-03T10:00:00"}, "at"),
        ({"products": [{"lot_id": 1, "dose_value": "-5"}]}, "products[0].dose_value"),
        ({"products": [{"dose_value": "5"}]}, "products[0]"),
        ({"products": [{"lot_id": 1, "trace_code": "(01)06901234567892(10)A1"}]}, "products[0]"),
        ({"products": [{"lot_id": 1, "minutes": 9999}]}, "products[0].minutes"),
        ({"device_ids": "x"}, "device_ids"),
    ],
)
def test_malformed_input_is_422_naming_the_field(clinic, change, field):
    r = _post(clinic.world.client("li"), "/api/v1/decisions", clinic.payload(**change))
    assert r.status_code == 422, r.content
    body = r.json()
    assert body["code"] == "INVALID"
    assert field in [e["field"] for e in body["errors"]]
    assert not DecisionLog.objects.exists()


def test_malformed_json_is_422(clinic):
    r = clinic.world.client("li").post("/api/v1/decisions", data="{not json", content_type="application/json")
    assert r.status_code in (400, 422)
    assert r.json()["message"]


def test_foreign_and_unknown_ids_are_404_naming_the_field(clinic):
    sun = clinic.world.client("sun")
    r = _post(sun, "/api/v1/decisions", clinic.payload())
    assert r.status_code == 404
    assert r.json()["field"] == "institution_id"
    assert "institution_id" in r.json()["message"]
    r = _post(clinic.world.client("li"), "/api/v1/decisions", clinic.payload(products=[{"lot_id": 999999}]))
    assert (r.status_code, r.json()["field"]) == (404, "products[0].lot_id")


def test_batch_decides_each_item_and_reports_bad_ones(clinic):
    items = [
        clinic.payload(),
        clinic.payload(practitioner_id=clinic.sun_doctor.pk),
        clinic.payload(products=[{"lot_id": clinic.lot.pk, "dose_value": "500", "dose_unit": "U"}]),
    ]
    r = _post(clinic.world.client("zhao"), "/api/v1/decisions/batch", {"requests": items})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["allowed"], body["denied"], body["errors"]) == (1, 1, 1)
    assert body["results"][1]["error"]["field"] == "practitioner_id"
    assert body["results"][2]["decision"]["reasons"][0]["code"] == "DOSE_OVER_LIMIT"
    assert DecisionLog.objects.filter(channel="batch").count() == 2


def test_batch_is_limited_to_1000(clinic):
    r = _post(clinic.world.client("zhao"), "/api/v1/decisions/batch", {"requests": [clinic.payload()] * 1001})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "requests"
    assert _post(clinic.world.client("zhao"), "/api/v1/decisions/batch", {"requests": []}).status_code == 422


def test_decision_log_is_searchable_and_scoped(clinic):
    li = clinic.world.client("li")
    _post(li, "/api/v1/decisions", clinic.payload())
    _post(
        li,
        "/api/v1/decisions",
        clinic.payload(products=[{"lot_id": clinic.lot.pk, "dose_value": "500", "dose_unit": "U"}]),
    )
    rows = li.get("/api/v1/decisions", {"outcome": "deny"}).json()
    assert rows["count"] == 1 and rows["items"][0]["reason_codes"] == ["DOSE_OVER_LIMIT"]
    assert li.get("/api/v1/decisions", {"practitioner_id": clinic.li.pk}).json()["count"] == 2
    assert li.get("/api/v1/decisions", {"procedure_code": "derm-filler-injection"}).json()["count"] == 0
    assert clinic.world.client("sun").get("/api/v1/decisions").json()["count"] == 0
    assert clinic.world.client("qian").get("/api/v1/decisions").json()["count"] == 2
    assert li.get("/api/v1/decisions", {"outcome": "maybe"}).status_code == 422


def test_replay_endpoint(clinic, django_capture_on_commit_callbacks):
    from meiguard.authz import actions

    li = clinic.world.client("li")
    decision_id = _post(li, "/api/v1/decisions", clinic.payload()).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_status(SYSTEM, clinic.auths["device"].pk, action="suspend", reason="设备培训过期")
    body = li.get(f"/api/v1/decisions/{decision_id}/replay").json()
    assert body["recorded"]["outcome"] == "allow" and body["reproducible"] is True
    assert body["current"]["outcome"] == "deny"
    assert body["changed_since"] == ["AUTHORIZATION_SUSPENDED"]
    assert clinic.world.client("sun").get(f"/api/v1/decisions/{decision_id}/replay").status_code == 404
    assert li.get(f"/api/v1/decisions/{decision_id}").json()["id"] == decision_id


def test_a_scanned_udi_names_the_lot(clinic, django_capture_on_commit_callbacks):
    from meiguard.registry import actions as reg

    with django_capture_on_commit_callbacks(execute=True):
        reg.update_product(SYSTEM, clinic.rf.pk, udi_di="06901234567892")
        filler = reg.create_product(
            SYSTEM,
            supplier_id=clinic.toxin.supplier_id,
            generic_name="透明质酸钠凝胶",
            brand_name="衡力",
            kind="device",
            registration_no="国械注准20163130001",
            registrant="华熙",
            risk_class="III",
            registration_valid_until="2030-12-31",
            high_risk=True,
            category="hyaluronic_acid",
            dose_unit="ml",
            udi_di="06901234567892",
        )
        reg.create_lot(
            SYSTEM,
            institution_id=clinic.jia.pk,
            product_id=filler.pk,
            lot_no="HA01",
            expiry_date="2030-01-01",
            unit="piece",
        )
    li = clinic.world.client("li")
    body = _post(
        li,
        "/api/v1/decisions",
        clinic.payload(
            procedure_code="derm-filler-injection",
            device_ids=[],
            products=[
                {"trace_code": "(01)06901234567892(17)300101(10)HA01", "dose_value": "1", "dose_unit": "ml"}
            ],
        ),
    ).json()
    assert body["reasons"] and {r["code"] for r in body["reasons"]} == {"AUTHORIZATION_MISSING"}
    assert DecisionLog.objects.get().request["products"][0]["lot_id"] > 0
    r = _post(
        li, "/api/v1/decisions", clinic.payload(products=[{"trace_code": "(01)06901234567892(10)NOPE"}])
    )
    assert (r.status_code, r.json()["field"]) == (404, "products[0].trace_code")
    r = _post(
        li, "/api/v1/decisions", clinic.payload(products=[{"trace_code": "(01)06901234567899(10)HA01"}])
    )
    assert r.status_code == 422 and r.json()["field"] == "products[0].trace_code"
    # A 20-digit drug trace code resolves through inventory; one never received here is refused (DD-06).
    r = _post(li, "/api/v1/decisions", clinic.payload(products=[{"trace_code": "81234567890123456789"}]))
    assert r.status_code == 409 and r.json()["code"] == "TRACE_CODE_NOT_RECEIVED"
    assert r.json()["field"] == "products[0].trace_code" and "入库" in r.json()["message"]


def test_a_batch_of_equal_facts_stores_one_snapshot(clinic):
    from meiguard.authz.models import DecisionSnapshot

    days = [f"2026-{m:02d}-{d:02d}T10:00:00+08:00" for m in range(1, 12) for d in range(1, 29)]
    assert len(days) == 308
    r = _post(
        clinic.world.client("zhao"),
        "/api/v1/decisions/batch",
        {"requests": [clinic.payload(at=d) for d in days]},
    )
    assert r.status_code == 200 and r.json()["errors"] == 0
    assert DecisionLog.objects.count() == 308
    assert DecisionSnapshot.objects.count() == 1  # same facts every day: stored once


def test_many_new_snapshots_are_stored_in_chunks(clinic):
    """More new snapshots than one INSERT takes (300 rows), and some already stored."""
    from meiguard.authz import actions, snapshot
    from meiguard.authz.models import DecisionSnapshot, DecisionSnapshotPack

    loaded = [
        snapshot.Loaded(None, {"pack": {"p": i % 2}, "n": i}, f"{i:064x}", f"{i % 2:064x}")  # type: ignore[arg-type]
        for i in range(650)
    ]
    actions._store_snapshots(loaded[:10])
    snapshot.clear()
    actions._store_snapshots(loaded)
    assert DecisionSnapshot.objects.count() == 650
    assert DecisionSnapshotPack.objects.count() == 2
    assert DecisionSnapshot.objects.get(digest=f"{42:064x}").facts() == {"pack": {"p": 0}, "n": 42}
