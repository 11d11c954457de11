"""Issue 11 §1, probe by probe: hostile input is a precise 4xx in the error envelope, never a 500.

Batch probes that need a decidable clinic live in ``meiguard/authz/tests/test_edge_batch.py``.
"""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from openpyxl import load_workbook

from meiguard.authz.tests.conftest import make_doctor, make_institution
from meiguard.core.schemas import MAX_ID
from meiguard.registry.models import Qualification
from meiguard.rules.testing import load_builtin_packs

OVER = str(2**64)  # 18446744073709551616
JUST_OVER = str(MAX_ID + 1)  # 9223372036854775808


def _post(client: Client, path: str, body: object, **extra: str):
    return client.post(path, data=json.dumps(body), content_type="application/json", **extra)


def _envelope(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"].startswith("application/json"), resp["Content-Type"]
    body = resp.json()
    assert set(body) == {"code", "message", "field", "errors"}, body
    if code:
        assert body["code"] == code, body
    return body


@pytest.fixture
def clinic(world):
    inst = make_institution(world.org_jia.pk, "甲诊所")
    doctor = make_doctor(inst, "李医生", user_id=world.users["li"].pk)
    return inst, doctor


DECISION = {"institution_id": 1, "practitioner_id": 1, "procedure_code": "derm-botulinum-toxin-injection"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/decisions",
        "/api/v1/authorizations",
        "/api/v1/registry/institutions",
        "/api/v1/registry/practitioners",
        "/api/v1/registry/lots",
        "/api/v1/applications",
        "/api/v1/applications/inbox",
        "/api/v1/bulk/imports",
        "/api/v1/reviews/campaigns",
    ],
)
@pytest.mark.parametrize(("param", "value"), [("offset", OVER), ("offset", JUST_OVER), ("limit", OVER)])
def test_overflowing_pagination_is_422_naming_the_parameter(world, path, param, value):
    body = _envelope(world.client("li").get(path, {param: value}), 422, "INVALID")
    assert body["field"] == param


def test_limit_is_capped(world):
    assert _envelope(world.client("li").get("/api/v1/decisions", {"limit": 1001}), 422)["field"] == "limit"
    assert world.client("li").get("/api/v1/decisions", {"limit": 1000}).status_code == 200


@pytest.mark.parametrize("value", [JUST_OVER, OVER])
def test_overflowing_ids_in_bodies_filters_and_paths_are_422(world, value):
    client = world.client("li")
    body = _envelope(_post(client, "/api/v1/decisions", {**DECISION, "institution_id": int(value)}), 422)
    assert body["field"] == "institution_id"
    body = _envelope(_post(client, "/api/v1/decisions", {**DECISION, "device_ids": [int(value)]}), 422)
    assert body["field"] == "device_ids"
    assert (
        _envelope(client.get("/api/v1/decisions", {"institution_id": value}), 422)["field"]
        == "institution_id"
    )
    assert _envelope(client.get(f"/api/v1/decisions/{value}"), 422)["field"] == "decision_id"
    assert _envelope(client.get(f"/api/v1/registry/lots/{value}"), 422)["field"] == "lot_id"
    # Pages answer such ids with a 404: no such object can exist.
    assert client.get(f"/authz/decisions/{value}/").status_code == 404


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+08:00", 1700000000, 0])
def test_datetimes_outside_a_sane_range_and_epochs_are_422(world, at):
    body = _envelope(_post(world.client("li"), "/api/v1/decisions", {**DECISION, "at": at}), 422, "INVALID")
    assert body["field"] == "at"


def test_since_filter_out_of_range_is_422(world):
    resp = world.client("li").get("/api/v1/decisions", {"since": "9999-12-31T23:59:59-14:00"})
    assert _envelope(resp, 422)["field"] == "since"


@pytest.mark.parametrize("value", ["1_000", "١٢٣", "+5", " 12", "1e3", True])
def test_integers_are_ascii_digits_only(world, value):
    body = _envelope(
        _post(world.client("li"), "/api/v1/decisions", {**DECISION, "institution_id": value}), 422
    )
    assert body["field"] == "institution_id"
    if isinstance(value, str):
        resp = world.client("li").get("/api/v1/decisions", {"institution_id": value})
        assert _envelope(resp, 422)["field"] == "institution_id"


def test_a_digit_string_is_accepted_for_an_integer_as_documented(world):
    # "123" is an integer in bodies as in query strings (docs/api.md); here the institution is unknown.
    resp = _post(world.client("li"), "/api/v1/decisions", {**DECISION, "institution_id": "123"})
    assert _envelope(resp, 404, "NOT_FOUND")["field"] == "institution_id"


@pytest.mark.parametrize("dose", ["١٢", "1_0", "NaN", "Infinity", "1e3"])
def test_decimals_are_ascii_digits_only(world, dose):
    body = {**DECISION, "products": [{"lot_id": 1, "dose_value": dose, "dose_unit": "U"}]}
    resp = _post(world.client("li"), "/api/v1/decisions", body)
    assert _envelope(resp, 422)["field"] == "products[0].dose_value"


def test_unknown_fields_are_422_naming_them(world):
    body = _envelope(_post(world.client("li"), "/api/v1/decisions", {**DECISION, "supervisor": 5}), 422)
    assert body["field"] == "supervisor" and body["errors"][0]["code"] == "extra_forbidden"
    nested = {**DECISION, "products": [{"lot_id": 1, "lot": 2}]}
    assert (
        _envelope(_post(world.client("li"), "/api/v1/decisions", nested), 422)["field"] == "products[0].lot"
    )
    patch = world.client("wang").patch(
        "/api/v1/registry/institutions/1", data=json.dumps({"nmae": "x"}), content_type="application/json"
    )
    assert _envelope(patch, 422)["field"] == "nmae"


def test_unknown_procedure_code_is_422_naming_the_field(world, clinic):
    load_builtin_packs()
    inst, doctor = clinic
    body = {"institution_id": inst.pk, "practitioner_id": doctor.pk, "procedure_code": "no-such-procedure"}
    resp = _post(world.client("li"), "/api/v1/decisions", body)
    env = _envelope(resp, 422, "INVALID")
    assert env["field"] == "procedure_code" and "no-such-procedure" in env["message"]


def test_control_characters_are_refused_in_api_text(world, clinic):
    _inst, doctor = clinic
    resp = _post(
        world.client("wang"),
        "/api/v1/registry/qualifications",
        {"practitioner_id": doctor.pk, "kind": "training_certificate", "number": "\u0016x"},
    )
    env = _envelope(resp, 422, "INVALID")
    assert env["field"] == "number" and "U+0016" in env["message"]
    assert not Qualification.objects.filter(number__contains="\u0016").exists()


def test_control_characters_are_refused_in_page_forms(world, clinic):
    _inst, doctor = clinic
    resp = world.client("wang").post(
        f"/registry/practitioners/{doctor.pk}/edit/", {"name": "李\u0007医生", "profession": "doctor"}
    )
    assert resp.status_code in (200, 404)  # the form again with its errors (or no such page): never a 500
    doctor.refresh_from_db()
    assert "\u0007" not in doctor.name


def test_exports_survive_hostile_text_already_stored(world, clinic):
    """Rows stored before the edge existed (or by an administrator) never break an export."""
    _inst, doctor = clinic
    Qualification.objects.filter(practitioner=doctor).update(
        number="\u0016ZX-001\u0001", issuer="卫健委\u001f"
    )
    client = world.client("wang")
    for kind in ("qualifications", "full"):
        resp = client.get(f"/api/v1/bulk/exports/{kind}")
        assert resp.status_code == 200, resp.content[:300]
        wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content) if resp.streaming else resp.content))
        texts = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value]
        assert any("ZX-001" in t for t in texts)
        assert not any("\u0016" in t for t in texts)


def test_text_plain_body_is_415(world):
    resp = world.client("li").post("/api/v1/decisions", data=json.dumps(DECISION), content_type="text/plain")
    _envelope(resp, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_malformed_json_is_400_envelope(world):
    resp = world.client("li").post("/api/v1/decisions", data="{", content_type="application/json")
    _envelope(resp, 400, "INVALID_JSON")


def test_oversized_body_is_413_envelope(world, settings):
    big = json.dumps({**DECISION, "procedure_code": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    resp = world.client("li").post("/api/v1/decisions", data=big, content_type="application/json")
    _envelope(resp, 413, "TOO_LARGE")


def test_unknown_api_path_is_404_envelope(world):
    _envelope(world.client("li").get("/api/v1/no/such/path"), 404, "NOT_FOUND")
    _envelope(Client().get("/api/v1/nothing-here"), 404, "NOT_FOUND")


def test_wrong_method_is_405_envelope(world):
    resp = world.client("li").delete("/api/v1/me")
    env = _envelope(resp, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in env["message"] and resp["Allow"] == "GET"


def test_csrf_failure_is_403_envelope(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["li"])
    resp = client.post("/api/v1/decisions", data=json.dumps(DECISION), content_type="application/json")
    _envelope(resp, 403, "CSRF_FAILED")


def test_english_messages_at_the_edge(world):
    resp = world.client("li").post(
        "/api/v1/decisions", data="{}", content_type="text/plain", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "application/json" in _envelope(resp, 415)["message"]
    resp = _post(
        world.client("li"), "/api/v1/decisions", {**DECISION, "supervisor": 5}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "not allowed" in _envelope(resp, 422)["errors"][0]["message"].lower()
