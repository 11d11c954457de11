"""Server-rendered pages: lists with filters/pagination, details with audit history, forms that call actions."""

import datetime as dt

from meiguard.audit.models import AuditEntry
from meiguard.registry.models import Institution, Practitioner, Qualification

from .factories import LotFactory, PractitionerFactory, id_number


def test_index_and_lists_render(reg, world):
    c = world.client("wang")
    for url in [
        "/registry/",
        "/registry/institutions/",
        "/registry/practitioners/",
        "/registry/products/",
        "/registry/lots/",
        "/registry/devices/",
    ]:
        r = c.get(url)
        assert r.status_code == 200, url
    assert "甲诊所" in c.get("/registry/institutions/").content.decode()


def test_lists_filter_and_paginate(reg, world):
    for n in range(30):
        PractitionerFactory(main_institution=reg.jia, name=f"批量{n:02d}")
    c = world.client("wang")
    page1 = c.get("/registry/practitioners/").content.decode()
    assert "第 1 / 2 页" in page1
    page2 = c.get("/registry/practitioners/?page=2").content.decode()
    assert "李医生" in page1 + page2
    filtered = c.get("/registry/practitioners/?q=李").content.decode()
    assert "李医生" in filtered and "批量00" not in filtered
    LotFactory(product=reg.product, institution=reg.jia, lot_no="SOON", expiry_date=dt.date(2020, 1, 1))
    lots = c.get("/registry/lots/?expires_before=2021-01-01").content.decode()
    assert "SOON" in lots and reg.lot.lot_no not in lots


def test_institution_detail_shows_grade_and_history(reg, world):
    from meiguard.registry import actions

    actions.update_institution(world.actor("wang"), reg.jia.pk, city="株洲")
    body = world.client("wang").get(f"/registry/institutions/{reg.jia.pk}/").content.decode()
    assert "没有生效的规则包" in body
    assert "registry.institution.updated" in body


def test_institution_detail_shows_the_derived_grade(reg, world):
    from meiguard.rules.testing import load_builtin_packs

    load_builtin_packs()
    Institution.objects.filter(pk=reg.yi.pk).update(subjects=["cosmetic_surgery"])
    body = world.client("sun").get(f"/registry/institutions/{reg.yi.pk}/").content.decode()
    assert "最高 4 级" in body


def test_practitioner_form_creates_through_the_action(reg, world):
    c = world.client("wang")
    r = c.post(
        "/registry/practitioners/new/",
        {
            "main_institution": reg.jia.pk,
            "name": "表单医生",
            "id_number": id_number(612),
            "profession": "doctor",
            "licence_no": "110430000061200",
            "practice_category": "clinical",
            "practice_scope": "外科",
            "title": "attending",
            "practising_since": "2014-01-01",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    p = Practitioner.objects.get(name="表单医生")
    assert AuditEntry.objects.filter(action="registry.practitioner.created", object_id=str(p.pk)).exists()


def test_practitioner_form_shows_action_errors(reg, world):
    c = world.client("wang")
    r = c.post(
        "/registry/practitioners/new/",
        {
            "main_institution": reg.jia.pk,
            "name": "表单医生",
            "id_number": reg.li.id_number,
            "profession": "doctor",
            "licence_no": "",
            "practice_category": "clinical",
            "practice_scope": "外科",
            "title": "attending",
        },
    )
    assert r.status_code == 200
    body = r.content.decode()
    assert "该身份证号已在本机构登记为执业人员" in body
    assert not Practitioner.objects.filter(name="表单医生").exists()


def test_practitioner_form_offers_only_writable_institutions(reg, world):
    r = world.client("sun").post(
        "/registry/practitioners/new/",
        {
            "main_institution": reg.jia.pk,
            "name": "越权",
            "id_number": id_number(613),
            "profession": "nurse",
            "licence_no": "N12345678",
            "title": "nurse",
        },
    )
    assert r.status_code == 200
    assert not Practitioner.objects.filter(name="越权").exists()


def test_practitioner_edit_keeps_id_number_when_blank(reg, world):
    c = world.client("wang")
    r = c.get(f"/registry/practitioners/{reg.li.pk}/edit/")
    assert reg.li.id_number not in r.content.decode()
    r = c.post(
        f"/registry/practitioners/{reg.li.pk}/edit/",
        {
            "name": "李医生",
            "id_number": "",
            "profession": "doctor",
            "licence_no": reg.li.licence_no,
            "practice_category": "clinical",
            "practice_scope": "外科",
            "title": "chief",
            "practising_since": "2012-07-01",
        },
    )
    assert r.status_code == 302
    li = Practitioner.objects.get(pk=reg.li.pk)
    assert li.title == "chief"
    assert li.id_number == reg.li.id_number
    entry = AuditEntry.objects.get(action="registry.practitioner.updated", object_id=str(li.pk))
    assert entry.changes == {"title": ["attending", "chief"]}


def test_institution_form_validates_and_updates(reg, world):
    c = world.client("wang")
    data = {
        "name": "甲诊所",
        "credit_code": reg.jia.credit_code,
        "licence_kind": "practice_licence",
        "licence_no": reg.jia.licence_no,
        "institution_type": "aesthetic_clinic",
        "hospital_level": "",
        "subjects": ["cosmetic_surgery", "cosmetic_dentistry", "cosmetic_tcm"],
        "licence_valid_from": "2024-01-01",
        "licence_valid_until": "2029-01-01",
        "verification_cycle_years": "1",
        "province": "湖南",
        "city": "长沙",
    }
    r = c.post(f"/registry/institutions/{reg.jia.pk}/edit/", data)
    assert r.status_code == 200
    assert "最多登记2个" in r.content.decode()
    data["subjects"] = ["cosmetic_surgery", "cosmetic_dermatology"]
    r = c.post(f"/registry/institutions/{reg.jia.pk}/edit/", data)
    assert r.status_code == 302
    assert Institution.objects.get(pk=reg.jia.pk).subjects == ["cosmetic_dermatology", "cosmetic_surgery"]


def test_qualification_form_uploads_evidence(reg, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = world.client("zhao")
    r = c.post(
        f"/registry/practitioners/{reg.li.pk}/qualifications/new/",
        {
            "kind": "training_certificate",
            "issuer": "厂家培训中心",
            "number": "RF-2025-01",
            "product_reference": "热玛吉 FLX",
            "valid_from": "2025-01-01",
            "valid_until": "2027-01-01",
            "evidence": SimpleUploadedFile("cert.jpg", b"\xff\xd8\xff", content_type="image/jpeg"),
        },
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    q = Qualification.objects.get(number="RF-2025-01")
    assert q.evidence.name.endswith(".jpg")
    r = c.post(
        f"/registry/practitioners/{reg.li.pk}/qualifications/new/",
        {
            "kind": "training_certificate",
            "issuer": "厂家",
            "number": "RF-2",
            "evidence": SimpleUploadedFile("cert.svg", b"<svg/>"),
        },
    )
    assert r.status_code == 200
    assert "证明文件类型不允许" in r.content.decode()


def test_qualification_verify_page(reg, world):
    c = world.client("zhao")
    r = c.post(f"/registry/qualifications/{reg.qualification.pk}/verify/", {"status": "rejected", "note": ""})
    assert r.status_code == 200
    assert "必须填写说明" in r.content.decode()
    r = c.post(
        f"/registry/qualifications/{reg.qualification.pk}/verify/", {"status": "verified", "note": "OK"}
    )
    assert r.status_code == 302
    reg.qualification.refresh_from_db()
    assert reg.qualification.verification_status == "verified"


def test_pages_render_in_english(reg, world):
    body = world.client("wang").get("/registry/institutions/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Medical institution" in body and "No matching institutions" not in body
