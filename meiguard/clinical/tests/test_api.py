"""The clinical API: a whole non-surgical case over HTTP, strict schemas, tenancy, the gate envelope, exports."""

from __future__ import annotations

import io
import json

from openpyxl import load_workbook

from meiguard.clinical.models import Case, Usage

from .conftest import GOOD_ANSWERS, PNG, TOXIN, id_number


def _post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_a_toxin_case_from_client_file_to_closed_record(clin):
    zhao, li, zhang = clin.world.client("zhao"), clin.world.client("li"), clin.world.client("zhang")
    base = "/api/v1/clinical"
    number = id_number()
    r = _post(
        zhao,
        f"{base}/clients",
        {
            "institution_id": clin.clinic.jia.pk,
            "name": "孙女士",
            "date_of_birth": "1992-02-02",
            "phone": "13700001111",
            "id_number": number,
        },
    )
    assert r.status_code == 200, r.json()
    client = r.json()
    assert client["id_number_masked"].startswith(number[:4]) and "*" in client["id_number_masked"]
    r = _post(
        zhao,
        f"{base}/clients/{client['id']}/privacy-consents",
        {
            "purpose": "诊疗",
            "scope": ["health", "photos"],
            "retention_years": 30,
            "notice_version": "2026-1",
        },
    )
    assert r.status_code == 200
    r = _post(
        zhao,
        f"{base}/cases",
        {
            "client_id": client["id"],
            "procedure_code": TOXIN,
            "operator_id": clin.clinic.li.pk,
        },
    )
    assert r.status_code == 200, r.json()
    case = r.json()
    cid = case["id"]
    # The gate before anything: 409 listing every missing condition with a source.
    r = _post(li, f"{base}/cases/{cid}/record", {})
    assert r.status_code == 409 and r.json()["code"] == "GATE_REFUSED"
    assert {e["code"] for e in r.json()["errors"]} == {
        "CONSULTATION_NOT_SIGNED",
        "CONSENT_NOT_SIGNED",
        "ASSESSMENT_MISSING",
        "REVIEW_MISSING",
    }
    assert all(e["source"] for e in r.json()["errors"])
    assert (
        _post(
            zhang, f"{base}/cases/{cid}/consultation", {"needs": "抬头纹", "procedure_codes": [TOXIN]}
        ).status_code
        == 200
    )
    assert _post(li, f"{base}/cases/{cid}/consultation/sign", {}).json()["status"] == "signed"
    from meiguard.clinical.actions import current_template

    tpl = current_template(clin.clinic.jia.pk, TOXIN)
    r = _post(
        zhang,
        f"{base}/cases/{cid}/consent",
        {
            "template_id": tpl.pk,
            "content_hash": tpl.content_hash,
            "decision": "signed",
            "signer_name": "孙女士",
            "signature_image": PNG,
        },
    )
    assert r.status_code == 200 and len(r.json()["signature_hash"]) == 64
    r = _post(zhang, f"{base}/cases/{cid}/assessment", {"answers": GOOD_ANSWERS})
    assert r.json()["passed"] is True and r.json()["risk_level"] == "low"
    assert _post(li, f"{base}/cases/{cid}/assessment/sign", {"role": "chief"}).status_code == 200
    assert _post(zhao, f"{base}/cases/{cid}/review", {}).json()["kind"] == "confirmation"
    _post(li, f"{base}/cases/{cid}/review/confirm", {"role": "chief"})
    assert (
        _post(zhang, f"{base}/cases/{cid}/review/confirm", {"role": "nurse"}).json()["status"] == "approved"
    )
    r = _post(li, f"{base}/cases/{cid}/record", {})
    assert r.status_code == 200, r.json()
    r = _post(
        li,
        f"{base}/cases/{cid}/usages",
        {
            "usage_key": "tablet-1",
            "lot_id": clin.clinic.lot.pk,
            "dose_value": "50",
            "dose_unit": "U",
            "site": "额",
        },
    )
    assert r.status_code == 200, r.json()
    r = _post(
        li,
        f"{base}/cases/{cid}/usages",
        {
            "usage_key": "tablet-2",
            "lot_id": clin.clinic.lot.pk,
            "dose_value": "160",
            "dose_unit": "U",
        },
    )
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "DOSE_OVER_LIMIT"
    assert _post(li, f"{base}/cases/{cid}/record/close", {"notes": "顺利"}).json()["status"] == "closed"
    kinds = [e["kind"] for e in li.get(f"{base}/cases/{cid}/timeline").json()["events"]]
    assert kinds[0] == "case.created" and "usage.added" in kinds and kinds[-1] == "record.closed"
    assert Case.objects.get(pk=cid).status == "closed" and Usage.objects.filter(case_id=cid).count() == 1

    page = zhao.get(f"{base}/lots/{clin.clinic.lot.pk}/clients").json()
    assert page["count"] == 1
    assert [(x["client_name"], x["client_phone"], x["dose"]) for x in page["items"]] == [
        ("孙女士", "13700001111", "50U")
    ]
    r = zhao.get(f"{base}/lots/{clin.clinic.lot.pk}/clients?format=xlsx")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert [c.value for c in ws[2]][:2] == ["孙女士", "13700001111"]
    assert (
        zhao.get(f"{base}/clients?institution_id={clin.clinic.jia.pk}&q={number}").json()[0]["id"]
        == client["id"]
    )


def test_strict_schemas_and_tenancy(clin):
    zhao, sun = clin.world.client("zhao"), clin.world.client("sun")
    base = "/api/v1/clinical"
    r = _post(
        zhao,
        f"{base}/cases",
        {"client_id": clin.client.pk, "procedure_code": TOXIN, "operator_id": clin.clinic.li.pk, "extra": 1},
    )
    assert r.status_code == 422 and r.json()["field"] == "extra"
    r = _post(zhao, f"{base}/cases", {"client_id": 10**20, "procedure_code": TOXIN, "operator_id": 1})
    assert r.status_code == 422
    r = _post(
        zhao,
        f"{base}/clients",
        {
            "institution_id": clin.clinic.jia.pk,
            "name": "x",
            "date_of_birth": "1990-01-01",
            "phone": "13700002222",
            "id_number": "110105198503120000",
        },
    )
    assert r.status_code == 422 and r.json()["field"] == "id_number"
    assert sun.get(f"{base}/clients/{clin.client.pk}").status_code == 404
    r = _post(
        sun,
        f"{base}/cases",
        {"client_id": clin.client.pk, "procedure_code": TOXIN, "operator_id": clin.clinic.li.pk},
    )
    assert r.status_code == 404 and r.json()["field"] == "client_id"
    case = clin.case(TOXIN)
    assert sun.get(f"{base}/cases/{case.pk}/timeline").status_code == 404
    assert _post(sun, f"{base}/cases/{case.pk}/record", {}).status_code == 404
    assert sun.get(f"{base}/lots/{clin.clinic.lot.pk}/clients").status_code == 404
    r = clin.world.client("li").post(
        f"{base}/cases/{case.pk}/record",
        data=json.dumps({}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert r.status_code == 409
