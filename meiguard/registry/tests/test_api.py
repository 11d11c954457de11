"""JSON API: create/read/update/list, filters, pagination, error envelope (422/404), no partial writes."""

import datetime as dt
import json

from django.core.files.uploadedfile import SimpleUploadedFile

from meiguard.audit.models import AuditEntry
from meiguard.registry.models import Device, Institution, Lot, Practitioner, Qualification

from .factories import LotFactory, credit_code, id_number, licence_no

BASE = "/api/v1/registry"


def post(client, url, data, **extra):
    return client.post(BASE + url, data=json.dumps(data), content_type="application/json", **extra)


def patch(client, url, data, **extra):
    return client.patch(BASE + url, data=json.dumps(data), content_type="application/json", **extra)


def practitioner_body(reg, **overrides):
    body = {
        "main_institution_id": reg.jia.pk,
        "name": "新医生",
        "id_number": id_number(555),
        "profession": "doctor",
        "licence_no": "110430000055555",
        "practice_category": "clinical",
        "practice_scope": "外科",
        "title": "attending",
        "practising_since": "2016-03-01",
    }
    body.update(overrides)
    return body


def test_it_creates_and_reads_a_practitioner(reg, world):
    c = world.client("wang")
    r = post(c, "/practitioners", practitioner_body(reg))
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["id_number_masked"] == id_number(555)[:4] + "*" * 10 + id_number(555)[-4:]
    assert id_number(555) not in r.content.decode()
    r = c.get(f"{BASE}/practitioners/{data['id']}")
    assert r.status_code == 200
    assert r.json()["main_institution_name"] == "甲诊所"
    assert AuditEntry.objects.filter(
        action="registry.practitioner.created", object_id=str(data["id"])
    ).exists()


def test_it_returns_422_naming_each_bad_field_in_chinese(reg, world):
    c = world.client("wang")
    body = practitioner_body(reg, profession="wizard", practising_since="2016-13-01")
    del body["name"]
    r = post(c, "/practitioners", body)
    assert r.status_code == 422
    data = r.json()
    fields = {e["field"] for e in data["errors"]}
    assert {"name", "profession", "practising_since"} <= fields
    assert data["code"] == "INVALID"
    messages = {e["field"]: e["message"] for e in data["errors"]}
    assert messages["name"] == "此字段为必填项"
    assert messages["profession"].startswith("取值无效")


def test_it_returns_english_errors_with_accept_language_en(reg, world):
    c = world.client("wang")
    r = post(
        c, "/practitioners", practitioner_body(reg, id_number="110105198503121231"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["field"] == "id_number"
    assert "ID number" in error["message"]
    r = post(c, "/practitioners", practitioner_body(reg, id_number="110105198503121231"))
    assert "身份证号" in r.json()["errors"][0]["message"]


def test_model_validation_errors_are_422_per_field(reg, world):
    c = world.client("wang")
    r = patch(
        c,
        f"/institutions/{reg.jia.pk}",
        {
            "subjects": ["cosmetic_surgery", "cosmetic_dentistry", "cosmetic_tcm"],
            "licence_valid_until": "2000-01-01",
        },
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"subjects", "licence_valid_until"}
    reg.jia.refresh_from_db()
    assert len(reg.jia.subjects) == 1


def test_it_returns_404_naming_a_foreign_body_id(reg, world):
    c = world.client("wang")
    before = Practitioner.objects.count()
    r = post(c, "/practitioners", practitioner_body(reg, main_institution_id=reg.yi.pk))
    assert r.status_code == 404
    assert r.json()["field"] == "main_institution_id"
    r = post(
        c,
        "/lots",
        {
            "institution_id": reg.jia.pk,
            "product_id": 999999,
            "lot_no": "X1",
            "expiry_date": "2027-01-01",
            "unit": "piece",
        },
    )
    assert r.status_code == 404
    assert r.json()["field"] == "product_id"
    assert Practitioner.objects.count() == before
    assert not Lot.objects.filter(lot_no="X1").exists()


def test_it_returns_404_naming_the_path_id(reg, world):
    c = world.client("wang")
    r = patch(c, "/practitioners/999999", {"name": "X"})
    assert r.status_code == 404
    assert r.json()["field"] == "practitioner_id"
    r = c.get(f"{BASE}/lots/{reg.outsider_lot.pk}")
    assert r.status_code == 404
    assert r.json()["field"] == "lot_id"


def test_failed_request_writes_nothing(reg, world):
    c = world.client("wang")
    counts = (Institution.objects.count(), Practitioner.objects.count(), AuditEntry.objects.count())
    r = post(c, "/practitioners", practitioner_body(reg, licence_no="", practice_scope=""))
    assert r.status_code == 422
    r = post(c, "/practitioners", practitioner_body(reg, id_number=reg.li.id_number))
    assert r.status_code == 422
    assert (Institution.objects.count(), Practitioner.objects.count(), AuditEntry.objects.count()) == counts


def test_it_patches_only_given_fields_and_audits(reg, world):
    c = world.client("zhao")
    r = patch(c, f"/practitioners/{reg.li.pk}", {"title": "associate_chief"})
    assert r.status_code == 200, r.content
    assert r.json()["title"] == "associate_chief"
    entry = AuditEntry.objects.get(action="registry.practitioner.updated", object_id=str(reg.li.pk))
    assert entry.changes == {"title": ["attending", "associate_chief"]}
    r = patch(c, f"/practitioners/{reg.li.pk}", {"title": "associate_chief"})
    assert r.status_code == 200
    assert AuditEntry.objects.filter(action="registry.practitioner.updated").count() == 1


def test_it_lists_with_filters_and_pagination(reg, world):
    for n in range(3):
        LotFactory(product=reg.product, institution=reg.jia, expiry_date=dt.date(2026, 1, 1 + n))
    c = world.client("wang")
    r = c.get(f"{BASE}/lots", {"limit": 2, "offset": 0})
    data = r.json()
    assert data["count"] == 4
    assert len(data["items"]) == 2
    assert all(item["institution_id"] == reg.jia.pk for item in data["items"])
    r = c.get(f"{BASE}/lots", {"expires_before": "2026-01-03"})
    assert r.json()["count"] == 2
    r = c.get(f"{BASE}/institutions", {"subject": "cosmetic_dermatology"})
    assert [i["name"] for i in r.json()["items"]] == ["甲诊所"]
    r = c.get(f"{BASE}/institutions", {"subject": "cosmetic_surgery"})
    assert r.json()["count"] == 0
    r = c.get(f"{BASE}/products", {"kind": "device", "high_risk": "true"})
    assert r.json()["count"] == 1
    r = c.get(f"{BASE}/devices", {"overdue": "false"})
    assert r.json()["count"] == 1
    Device.objects.filter(pk=reg.device.pk).update(next_inspection_due=dt.date(2020, 1, 1))
    assert c.get(f"{BASE}/devices", {"overdue": "true"}).json()["count"] == 1
    r = c.get(f"{BASE}/practitioners", {"profession": "nurse"})
    assert r.json()["count"] == 0
    r = c.get(
        f"{BASE}/qualifications", {"kind": "chief_physician_filing", "verification_status": "unverified"}
    )
    assert [q["id"] for q in r.json()["items"]] == [reg.qualification.pk]
    r = c.get(f"{BASE}/lots", {"status": "nonsense"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "status"


def test_it_filters_practitioners_by_expiring_credentials(reg, world):
    c = world.client("wang")
    Qualification.objects.filter(pk=reg.qualification.pk).update(valid_until=dt.date(2025, 3, 1))
    r = c.get(f"{BASE}/practitioners", {"expiring_before": "2025-04-01"})
    assert [p["name"] for p in r.json()["items"]] == ["李医生"]
    r = c.get(f"{BASE}/practitioners", {"expiring_before": "2025-02-01"})
    assert r.json()["count"] == 0


def test_it_creates_an_institution_for_the_admins_organization(world):
    from meiguard.core.models import Organization

    org = Organization.objects.create(name="丙门诊部", kind="institution", province="湖南")
    from meiguard.core.models import Membership

    Membership.objects.create(user=world.users["wang"], organization=org, role="institution_admin")
    r = post(
        world.client("wang"),
        "/institutions",
        {
            "organization_id": org.pk,
            "name": "丙门诊部",
            "credit_code": credit_code(77),
            "licence_no": licence_no(77),
            "institution_type": "aesthetic_outpatient_dept",
            "has_anesthesiology": True,
            "subjects": ["cosmetic_surgery"],
            "licence_valid_from": "2024-01-01",
            "licence_valid_until": "2028-12-31",
            "last_verified_on": "2025-12-20",
            "province": "湖南",
            "city": "长沙",
        },
    )
    assert r.status_code == 201, r.content
    data = r.json()
    assert (data["last_verified_on"], data["next_verification_due"]) == ("2025-12-20", "2026-12-20")
    assert data["permitted_grade"]["grade"] is None  # no rule pack loaded in this test
    assert "规则包" in data["permitted_grade"]["message"]


def test_institution_detail_exposes_the_derived_grade_with_its_rule(reg, world):
    from meiguard.rules.testing import load_builtin_packs

    load_builtin_packs()
    r = world.client("wang").get(f"{BASE}/institutions/{reg.jia.pk}")
    grade = r.json()["permitted_grade"]
    assert grade["grade"] == 0  # dermatology only: no graded surgery
    assert grade["message"]
    assert grade["rule_id"] and grade["pack"] and grade["version"]
    # It cannot be typed in (an unknown field is refused); it follows the registered subjects.
    r = patch(world.client("wang"), f"/institutions/{reg.jia.pk}", {"permitted_grade": 4})
    assert r.status_code == 422 and r.json()["field"] == "permitted_grade"
    r = patch(
        world.client("wang"),
        f"/institutions/{reg.jia.pk}",
        {"subjects": ["cosmetic_surgery", "cosmetic_dermatology"]},
    )
    assert r.status_code == 200
    grade = r.json()["permitted_grade"]
    assert grade["grade"] == 1
    assert grade["message"] == ""


def test_status_endpoints_change_status(reg, world):
    c = world.client("wang")
    r = post(c, f"/practitioners/{reg.li.pk}/status", {"status": "suspended"})
    assert r.status_code == 422
    assert r.json()["field"] == "reason"
    r = post(c, f"/practitioners/{reg.li.pk}/status", {"status": "suspended", "reason": "停职调查"})
    assert r.status_code == 200
    assert r.json()["status"] == "suspended"
    r = post(c, f"/lots/{reg.lot.pk}/status", {"status": "recalled", "recall_level": 2, "reason": "二级召回"})
    assert r.json()["recall_level"] == 2
    r = post(c, f"/devices/{reg.device.pk}/status", {"status": "maintenance"})
    assert r.json()["status"] == "maintenance"


def test_it_verifies_a_qualification_and_uploads_evidence(reg, world, settings):
    c = world.client("zhao")
    r = post(c, f"/qualifications/{reg.qualification.pk}/verify", {"status": "verified", "note": "核对原件"})
    assert r.status_code == 200
    assert r.json()["verified_by_id"] == world.users["zhao"].pk
    r = c.post(
        f"{BASE}/qualifications/{reg.qualification.pk}/evidence",
        {"file": SimpleUploadedFile("cert.pdf", b"%PDF-1.4 test", content_type="application/pdf")},
    )
    assert r.status_code == 200, r.content
    assert r.json()["has_evidence"] is True
    assert r.json()["verification_status"] == "unverified"
    r = c.post(
        f"{BASE}/qualifications/{reg.qualification.pk}/evidence",
        {"file": SimpleUploadedFile("cert.exe", b"MZ")},
    )
    assert r.status_code == 422
    assert r.json()["field"] == "evidence"


def test_supplier_product_and_authorization_endpoints(reg, world):
    zhou = world.client("zhou")
    r = post(
        zhou,
        "/products",
        {
            "supplier_id": reg.supplier.pk,
            "generic_name": "注射用A型肉毒毒素",
            "brand_name": "保妥适",
            "kind": "drug",
            "registration_no": "国药准字SJ20171234",
            "registrant": "Allergan",
            "registration_valid_until": "2030-01-01",
            "high_risk": True,
            "category": "botulinum_toxin_a",
            "dose_unit": "U",
        },
    )
    assert r.status_code == 201, r.content
    r = post(
        zhou,
        "/distribution-authorizations",
        {
            "supplier_id": reg.supplier.pk,
            "brand": "保妥适",
            "registrant": "Allergan",
            "valid_from": "2025-01-01",
            "valid_until": "2024-01-01",
        },
    )
    assert r.status_code == 422
    assert r.json()["field"] == "valid_until"
    r = post(
        zhou,
        "/distribution-authorizations",
        {
            "supplier_id": reg.supplier.pk,
            "brand": "保妥适",
            "registrant": "Allergan",
            "valid_from": "2025-01-01",
            "valid_until": "2026-01-01",
        },
    )
    assert r.status_code == 201
    # Reference data: every signed-in user reads it.
    assert world.client("sun").get(f"{BASE}/distribution-authorizations/{r.json()['id']}").status_code == 200
    r = patch(world.client("zhou"), f"/suppliers/{reg.supplier.pk}", {"credit_code": "123"})
    assert r.status_code == 422
    assert r.json()["field"] == "credit_code"


def test_it_requires_authentication(reg, client):
    r = client.get(f"{BASE}/institutions")
    assert r.status_code == 401
