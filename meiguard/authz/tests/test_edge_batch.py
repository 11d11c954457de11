"""POST /api/v1/decisions/batch at the edge: each item validated on its own, a cost cap for the whole."""

import json

from meiguard.authz.api import BATCH_COST_MAX
from meiguard.authz.models import DecisionLog
from meiguard.core.tests.openapi_shapes import assert_documented

URL = "/api/v1/decisions/batch"


def _post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def test_a_malformed_item_fails_alone_and_the_others_are_decided(clinic):
    good = clinic.payload()
    requests = [
        good,
        {**good, "supervisor": 5},  # typo for supervisor_id: refused, not decided without a supervisor
        {**good, "institution_id": 2**64},
        "not an object",
        {**good, "products": [{"lot_id": clinic.lot.pk, "dose_value": "١٢"}]},
        {**good, "procedure_code": "no-such-procedure"},
        good,
    ]
    resp = _post(clinic.world.client("li"), {"requests": requests})
    assert resp.status_code == 200, resp.content
    assert_documented(resp, "POST", "/api/v1/decisions/batch")
    body = resp.json()
    results = body["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert results[0]["decision"]["allowed"] and results[6]["decision"]["allowed"]
    errors = {r["index"]: r["error"] for r in results if r["error"]}
    assert set(errors) == {1, 2, 3, 4, 5}
    assert (errors[1]["code"], errors[1]["field"]) == ("INVALID", "supervisor")
    assert errors[2]["field"] == "institution_id"
    assert errors[3]["field"] == "body"
    assert errors[4]["field"] == "products[0].dose_value"
    assert (errors[5]["code"], errors[5]["field"]) == ("INVALID", "procedure_code")
    assert (body["allowed"], body["errors"]) == (2, 5)
    assert DecisionLog.objects.count() == 2


def test_a_batch_over_the_cost_cap_is_422(clinic):
    item = {**clinic.payload(), "device_ids": list(range(1, 11))}
    n = BATCH_COST_MAX // 11 + 1
    resp = _post(clinic.world.client("li"), {"requests": [item] * n})
    assert resp.status_code == 422
    body = resp.json()
    assert (body["code"], body["field"]) == ("BATCH_TOO_LARGE", "requests")
    assert DecisionLog.objects.count() == 0


def test_batch_envelope_errors(clinic):
    client = clinic.world.client("li")
    assert _post(client, {"requests": []}).json()["field"] == "requests"
    assert _post(client, {"requests": [clinic.payload()], "extra": 1}).json()["field"] == "extra"
    assert _post(client, {"requests": "x"}).status_code == 422
