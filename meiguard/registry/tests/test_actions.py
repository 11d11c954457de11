"""Writes: validation (FieldErrors), audit with before/after, no audit on no-op, status changes."""

import datetime as dt
from decimal import Decimal

import pytest
from django.http import Http404

from meiguard.audit.models import AuditEntry
from meiguard.core.access import Actor
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import Organization
from meiguard.registry import actions
from meiguard.registry.choices import (
    DeviceStatus,
    InstitutionStatus,
    LicenceKind,
    LotStatus,
    PractitionerStatus,
    ProductCategory,
    ProductKind,
    QualificationKind,
    RiskClass,
    VerificationStatus,
)
from meiguard.registry.models import Institution, Lot, Practitioner, Qualification
from meiguard.rules.choices import (
    HospitalLevel,
    InstitutionType,
    PracticeCategory,
    Profession,
    Subject,
    Title,
)

from .factories import BotoxFactory, credit_code, id_number, licence_no

TODAY = dt.date(2025, 6, 1)


def entries(obj, action=None):
    qs = AuditEntry.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    if action:
        qs = qs.filter(action=action)
    return list(qs.order_by("seq"))


def institution_fields(**overrides):
    data = {
        "name": "新诊所",
        "credit_code": credit_code(900),
        "licence_kind": LicenceKind.PRACTICE_LICENCE,
        "licence_no": licence_no(900),
        "institution_type": InstitutionType.AESTHETIC_CLINIC,
        "hospital_level": "",
        "has_anesthesiology": False,
        "subjects": [Subject.COSMETIC_DERMATOLOGY.value],
        "licence_valid_from": dt.date(2024, 1, 1),
        "licence_valid_until": dt.date(2029, 1, 1),
        "verification_cycle_years": 1,
        "last_verified_on": dt.date(2025, 1, 10),
        "province": "湖南",
        "city": "长沙",
    }
    data.update(overrides)
    return data


def practitioner_fields(**overrides):
    data = {
        "name": "新医生",
        "id_number": id_number(321),
        "profession": Profession.DOCTOR,
        "licence_no": "110430000099999",
        "practice_category": PracticeCategory.CLINICAL,
        "practice_scope": "外科",
        "title": Title.ATTENDING,
        "practising_since": dt.date(2015, 1, 1),
    }
    data.update(overrides)
    return data


# --- institutions ---------------------------------------------------------------------------------


def test_it_creates_institution_and_its_organization(world):
    institution = actions.create_institution(Actor.system(), **institution_fields())
    assert institution.organization.kind == "institution"
    assert institution.organization.name == "新诊所"
    # Derived from the last verification + cycle when not given.
    assert institution.last_verified_on == dt.date(2025, 1, 10)
    assert institution.next_verification_due == dt.date(2026, 1, 10)
    [created] = entries(institution)
    assert created.action == "registry.institution.created"
    assert created.changes["credit_code"] == [None, credit_code(900)]
    assert entries(institution.organization, "core.organization.created")


def test_it_attaches_institution_to_the_admins_organization(world):
    institution = actions.create_institution(
        world.actor("wang"), organization_id=world.org_jia.pk, **institution_fields(name="甲诊所")
    )
    assert institution.organization == world.org_jia
    assert Organization.objects.filter(kind="institution").count() == 2  # no new organisation


def test_it_refuses_new_organizations_for_non_platform_users(world):
    with pytest.raises(ActionError) as exc:
        actions.create_institution(world.actor("wang"), **institution_fields())
    assert exc.value.status == 403
    assert not Institution.objects.exists()


def test_it_returns_404_when_attaching_to_other_organization(world):
    with pytest.raises(Http404) as exc:
        actions.create_institution(
            world.actor("sun"), organization_id=world.org_jia.pk, **institution_fields()
        )
    assert exc.value.field == "organization_id"


def test_it_rejects_bad_credit_code_checksum(world):
    bad = credit_code(900)[:-1] + ("0" if credit_code(900)[-1] != "0" else "1")
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(Actor.system(), **institution_fields(credit_code=bad))
    assert set(exc.value.errors) == {"credit_code"}
    assert not Organization.objects.filter(name="新诊所").exists()


def test_it_rejects_bad_licence_number(world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(Actor.system(), **institution_fields(licence_no="123"))
    assert "licence_no" in exc.value.errors


def test_it_accepts_a_clinic_filing_certificate_only_for_clinics(world):
    filing = {
        "licence_kind": LicenceKind.CLINIC_FILING_CERTIFICATE,
        "licence_no": "湘长卫诊备字〔2024〕第018号",
    }
    clinic = actions.create_institution(Actor.system(), **institution_fields(**filing))
    assert clinic.licence_kind == LicenceKind.CLINIC_FILING_CERTIFICATE
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(
            Actor.system(),
            **institution_fields(
                name="门诊部",
                credit_code=credit_code(901),
                institution_type=InstitutionType.AESTHETIC_OUTPATIENT_DEPT,
                **filing,
            ),
        )
    assert "licence_kind" in exc.value.errors


def test_it_limits_clinics_to_two_subjects(world):
    three = [Subject.COSMETIC_SURGERY.value, Subject.COSMETIC_DERMATOLOGY.value, Subject.COSMETIC_TCM.value]
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(Actor.system(), **institution_fields(subjects=three))
    assert "subjects" in exc.value.errors
    hospital = actions.create_institution(
        Actor.system(),
        **institution_fields(
            subjects=three, institution_type=InstitutionType.COSMETIC_HOSPITAL, has_anesthesiology=True
        ),
    )
    assert len(hospital.subjects) == 3


def test_it_rejects_unknown_or_missing_subjects(world):
    for subjects in ([], ["hair_salon"]):
        with pytest.raises(FieldErrors) as exc:
            actions.create_institution(Actor.system(), **institution_fields(subjects=subjects))
        assert "subjects" in exc.value.errors


def test_it_requires_hospital_level_for_general_hospitals(world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(
            Actor.system(), **institution_fields(institution_type=InstitutionType.GENERAL_HOSPITAL)
        )
    assert "hospital_level" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(Actor.system(), **institution_fields(hospital_level=HospitalLevel.LEVEL_2))
    assert "hospital_level" in exc.value.errors


def test_it_checks_licence_dates_and_verification_cycle(world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(
            Actor.system(),
            **institution_fields(licence_valid_until=dt.date(2023, 1, 1), verification_cycle_years=3),
        )
    assert {"licence_valid_until", "verification_cycle_years"} <= set(exc.value.errors)


def test_it_requires_anesthesiology_for_cosmetic_hospitals(world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(
            Actor.system(), **institution_fields(institution_type=InstitutionType.COSMETIC_HOSPITAL)
        )
    assert "has_anesthesiology" in exc.value.errors


def test_it_audits_institution_update_with_before_and_after(reg, world):
    actions.update_institution(world.actor("wang"), reg.jia.pk, city="株洲")
    [entry] = entries(reg.jia, "registry.institution.updated")
    assert entry.changes == {"city": ["长沙", "株洲"]}
    assert entry.actor_label == "wang"


def test_it_writes_no_audit_for_a_no_op_update(reg, world):
    actions.update_institution(world.actor("wang"), reg.jia.pk, city="长沙", subjects=list(reg.jia.subjects))
    assert entries(reg.jia, "registry.institution.updated") == []


def test_it_changes_institution_status_as_its_own_action(reg, world):
    with pytest.raises(FieldErrors):
        actions.change_institution_status(world.actor("zhao"), reg.jia.pk, status=InstitutionStatus.SUSPENDED)
    actions.change_institution_status(
        world.actor("zhao"), reg.jia.pk, status=InstitutionStatus.SUSPENDED, reason="校验未通过"
    )
    [entry] = entries(reg.jia, "registry.institution.status_changed")
    assert entry.changes == {"status": ["active", "suspended"]}
    assert entry.reason == "校验未通过"


# --- practitioners --------------------------------------------------------------------------------


def test_it_creates_a_practitioner_with_audit(reg, world):
    p = actions.create_practitioner(
        world.actor("wang"), main_institution_id=reg.jia.pk, **practitioner_fields()
    )
    [entry] = entries(p, "registry.practitioner.created")
    assert entry.changes["name"] == [None, "新医生"]
    assert entry.changes["id_number_masked"][1] == p.masked_id_number


def test_it_rejects_invalid_id_number(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_practitioner(
            world.actor("wang"),
            main_institution_id=reg.jia.pk,
            **practitioner_fields(id_number="110105198503121231"),
        )
    assert "id_number" in exc.value.errors


def test_it_rejects_a_duplicate_id_number_within_the_institution(reg, world):
    actions.create_practitioner(world.actor("wang"), main_institution_id=reg.jia.pk, **practitioner_fields())
    with pytest.raises(FieldErrors) as exc:
        actions.create_practitioner(
            world.actor("wang"), main_institution_id=reg.jia.pk, **practitioner_fields(name="另一人")
        )
    assert exc.value.errors["id_number"] == ["该身份证号已在本机构登记为执业人员"]


def test_it_checks_profession_specific_fields(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_practitioner(
            world.actor("wang"),
            main_institution_id=reg.jia.pk,
            **practitioner_fields(
                licence_no="", practice_category="", practice_scope="", title=Title.SUPERVISOR_NURSE
            ),
        )
    assert {"licence_no", "practice_category", "practice_scope", "title"} <= set(exc.value.errors)


def test_it_rejects_a_future_practising_since(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_practitioner(
            world.actor("wang"),
            main_institution_id=reg.jia.pk,
            **practitioner_fields(practising_since=dt.date.today() + dt.timedelta(days=30)),
        )
    assert "practising_since" in exc.value.errors


def test_it_links_only_users_of_the_main_institution(reg, world):
    with pytest.raises(Http404) as exc:
        actions.create_practitioner(
            world.actor("wang"),
            main_institution_id=reg.jia.pk,
            **practitioner_fields(user_id=world.users["sun"].pk),
        )
    assert exc.value.field == "user_id"
    p = actions.create_practitioner(
        world.actor("wang"),
        main_institution_id=reg.jia.pk,
        **practitioner_fields(user_id=world.users["zhang"].pk),
    )
    assert p.user == world.users["zhang"]


def test_it_requires_a_reason_to_suspend_a_practitioner(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.change_practitioner_status(
            world.actor("wang"), reg.li.pk, status=PractitionerStatus.SUSPENDED
        )
    assert "reason" in exc.value.errors
    actions.change_practitioner_status(
        world.actor("wang"), reg.li.pk, status=PractitionerStatus.SUSPENDED, reason="医疗纠纷调查中"
    )
    reg.li.refresh_from_db()
    assert reg.li.status == PractitionerStatus.SUSPENDED
    assert reg.li.status_reason == "医疗纠纷调查中"
    [entry] = entries(reg.li, "registry.practitioner.status_changed")
    assert entry.changes["status"] == ["active", "suspended"]
    assert entry.reason == "医疗纠纷调查中"


def test_it_does_not_audit_an_unchanged_status(reg, world):
    actions.change_practitioner_status(world.actor("wang"), reg.li.pk, status=PractitionerStatus.ACTIVE)
    assert entries(reg.li, "registry.practitioner.status_changed") == []


def test_update_practitioner_ignores_status_fields(reg, world):
    with pytest.raises(TypeError):
        actions.update_practitioner(world.actor("wang"), reg.li.pk, status=PractitionerStatus.LEFT)


# --- multi-site -------------------------------------------------------------------------------------


def test_host_registers_a_visiting_practitioner_once_the_main_institution_accepts(reg, world):
    req = actions.request_practitioner_site(
        world.actor("sun"),
        institution_id=reg.yi.pk,
        id_number=reg.li.id_number,
        name="李医生",
        valid_from=dt.date(2025, 1, 1),
        valid_until=dt.date(2025, 12, 31),
    )
    assert req.status == "pending" and req.site is None
    assert not Practitioner.objects.visible_to(world.actor("sun")).filter(pk=reg.li.pk).exists()
    req = actions.decide_practitioner_site_request(world.actor("wang"), req.pk, accept=True)
    site = req.site
    assert site.practitioner == reg.li
    assert entries(site, "registry.practitionersite.created")[0].organization_id == world.org_yi.pk
    # Now 乙 can read the visiting practitioner, but still not write the record.
    assert Practitioner.objects.visible_to(world.actor("sun")).filter(pk=reg.li.pk).exists()
    assert not Practitioner.objects.writable_by(world.actor("sun")).filter(pk=reg.li.pk).exists()


@pytest.mark.parametrize("name", ["李医生", "王五"])
def test_a_direct_registration_of_someone_elses_practitioner_needs_a_request(reg, world, name):
    # The same answer whether the ID number and name match 甲's doctor or nobody.
    with pytest.raises(ActionError) as exc:
        actions.create_practitioner_site(
            world.actor("sun"),
            institution_id=reg.yi.pk,
            id_number=reg.li.id_number,
            name=name,
            valid_from=dt.date(2025, 1, 1),
        )
    assert (exc.value.code, exc.value.status, exc.value.field) == ("SITE_REQUEST_REQUIRED", 409, "id_number")


def test_site_dates_must_be_ordered_and_not_the_main_institution(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.request_practitioner_site(
            world.actor("sun"),
            institution_id=reg.yi.pk,
            id_number=reg.li.id_number,
            name="李医生",
            valid_from=dt.date(2025, 6, 1),
            valid_until=dt.date(2025, 1, 1),
        )
    assert "valid_until" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        actions.create_practitioner_site(
            world.actor("wang"),
            institution_id=reg.jia.pk,
            practitioner_id=reg.li.pk,
            valid_from=dt.date(2025, 1, 1),
        )
    assert "institution_id" in exc.value.errors


# --- qualifications -------------------------------------------------------------------------------


def test_it_validates_a_chief_physician_filing(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_qualification(
            world.actor("zhao"), practitioner_id=reg.li.pk, kind=QualificationKind.CHIEF_PHYSICIAN_FILING
        )
    assert {"subject", "filing_date", "qualifying_years"} <= set(exc.value.errors)
    with pytest.raises(FieldErrors) as exc:
        actions.create_qualification(
            world.actor("zhao"),
            practitioner_id=reg.li.pk,
            kind=QualificationKind.CHIEF_PHYSICIAN_FILING,
            subject=Subject.COSMETIC_SURGERY,
            filing_date=dt.date(2024, 1, 1),
            qualifying_years=5,
        )
    assert "《医疗美容服务管理办法》第十一条" in exc.value.errors["qualifying_years"][0]
    q = actions.create_qualification(
        world.actor("zhao"),
        practitioner_id=reg.li.pk,
        kind=QualificationKind.CHIEF_PHYSICIAN_FILING,
        subject=Subject.COSMETIC_DERMATOLOGY,
        filing_date=dt.date(2024, 1, 1),
        qualifying_years=3,
    )
    assert entries(q, "registry.qualification.created")


def test_it_checks_valid_from_before_valid_until(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_qualification(
            world.actor("zhao"),
            practitioner_id=reg.li.pk,
            kind=QualificationKind.TRAINING_CERTIFICATE,
            issuer="厂家",
            number="T-1",
            product_reference="热玛吉 CPT",
            valid_from=dt.date(2025, 1, 1),
            valid_until=dt.date(2024, 1, 1),
        )
    assert set(exc.value.errors) == {"valid_until"}


def test_it_validates_cme_and_nurse_hours(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_qualification(
            world.actor("zhao"), practitioner_id=reg.li.pk, kind=QualificationKind.CME_CREDITS
        )
    assert {"credits", "credit_class", "year"} <= set(exc.value.errors)
    q = actions.create_qualification(
        world.actor("zhao"),
        practitioner_id=reg.li.pk,
        kind=QualificationKind.CME_CREDITS,
        credits=Decimal("10"),
        credit_class="class_i",
        year=2025,
    )
    assert q.credits == Decimal("10")
    with pytest.raises(FieldErrors) as exc:
        actions.create_qualification(
            world.actor("zhao"),
            practitioner_id=reg.li.pk,
            kind=QualificationKind.NURSE_REGISTRATION,
            number="N1",
            issuer="卫健委",
            valid_from=dt.date(2024, 1, 1),
            valid_until=dt.date(2029, 1, 1),
        )
    assert "kind" in exc.value.errors  # a doctor has no nurse registration


def test_verification_is_its_own_audited_action(reg, world):
    q = reg.qualification
    with pytest.raises(FieldErrors):
        actions.verify_qualification(world.actor("zhao"), q.pk, status=VerificationStatus.REJECTED)
    actions.verify_qualification(
        world.actor("zhao"), q.pk, status=VerificationStatus.VERIFIED, note="已查国家平台"
    )
    q.refresh_from_db()
    assert q.verification_status == VerificationStatus.VERIFIED
    assert q.verified_by == world.users["zhao"]
    assert q.verified_at is not None
    [entry] = entries(q, "registry.qualification.verified")
    assert entry.changes["verification_status"] == ["unverified", "verified"]
    # Editing the content sends it back to unverified, in the same audited update.
    actions.update_qualification(world.actor("zhao"), q.pk, number="ZZ-NEW")
    q.refresh_from_db()
    assert q.verification_status == VerificationStatus.UNVERIFIED
    [update] = entries(q, "registry.qualification.updated")
    assert update.changes["verification_status"] == ["verified", "unverified"]


def test_nobody_verifies_their_own_qualification(reg, world):
    from meiguard.core.choices import Role
    from meiguard.core.models import Membership

    Membership.objects.create(user=world.users["li"], organization=world.org_jia, role=Role.MEDICAL_DIRECTOR)
    with pytest.raises(ActionError) as exc:
        actions.verify_qualification(
            world.actor("li"), reg.qualification.pk, status=VerificationStatus.VERIFIED
        )
    assert exc.value.code == "SELF_VERIFICATION"


# --- products, lots, devices ------------------------------------------------------------------------


def product_fields(**overrides):
    data = {
        "generic_name": "注射用A型肉毒毒素",
        "brand_name": "衡力",
        "kind": ProductKind.DRUG,
        "registration_no": "国药准字S10970037",
        "registrant": "兰州生物制品研究所有限责任公司",
        "registration_valid_until": dt.date(2030, 1, 1),
        "risk_class": "",
        "high_risk": True,
        "category": ProductCategory.BOTULINUM_TOXIN_A,
        "dose_unit": "U",
    }
    data.update(overrides)
    return data


def test_supplier_admin_creates_products(reg, world):
    product = actions.create_product(world.actor("zhou"), supplier_id=reg.supplier.pk, **product_fields())
    assert entries(product, "registry.product.created")[0].organization_id == reg.supplier.organization_id


def test_product_kind_decides_the_registration_format(reg, world):
    zhou = world.actor("zhou")
    with pytest.raises(FieldErrors) as exc:
        actions.create_product(
            zhou, supplier_id=reg.supplier.pk, **product_fields(registration_no="国械注准20153131234")
        )
    assert "registration_no" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        actions.create_product(
            zhou,
            supplier_id=reg.supplier.pk,
            **product_fields(
                kind=ProductKind.DEVICE,
                risk_class=RiskClass.CLASS_III,
                category="other",
                high_risk=False,
                dose_unit="ml",
            ),
        )
    assert "registration_no" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        actions.create_product(
            zhou, supplier_id=reg.supplier.pk, **product_fields(high_risk=False, dose_unit="ml")
        )
    assert {"high_risk", "dose_unit"} <= set(exc.value.errors)


def test_devices_need_a_risk_class(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_product(
            world.actor("zhou"),
            supplier_id=reg.supplier.pk,
            **product_fields(
                kind=ProductKind.DEVICE,
                registration_no="国械注准20153131234",
                category="other",
                dose_unit="ml",
            ),
        )
    assert "risk_class" in exc.value.errors


def test_other_institutions_cannot_write_products(reg, world):
    with pytest.raises(ActionError) as exc:
        actions.create_product(world.actor("wang"), supplier_id=reg.supplier.pk, **product_fields())
    assert exc.value.status == 403
    with pytest.raises(Http404):
        actions.update_product(world.actor("wang"), reg.product.pk, brand_name="X")


def test_it_creates_a_lot_and_enforces_uniqueness(reg, world):
    wang = world.actor("wang")
    lot = actions.create_lot(
        wang,
        institution_id=reg.jia.pk,
        product_id=reg.product.pk,
        lot_no="B2025",
        expiry_date=dt.date(2027, 1, 1),
        unit="piece",
    )
    assert entries(lot, "registry.lot.created")
    with pytest.raises(FieldErrors):
        actions.create_lot(
            wang,
            institution_id=reg.jia.pk,
            product_id=reg.product.pk,
            lot_no="B2025",
            expiry_date=dt.date(2027, 1, 1),
            unit="piece",
        )
    # The same lot number at another institution is a different row.
    other = actions.create_lot(
        world.actor("sun"),
        institution_id=reg.yi.pk,
        product_id=reg.product.pk,
        lot_no="B2025",
        expiry_date=dt.date(2027, 1, 1),
        unit="piece",
    )
    assert other.pk != lot.pk


def test_it_checks_lot_dates_and_refuses_a_typed_quantity(reg, world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_lot(
            world.actor("wang"),
            institution_id=reg.jia.pk,
            product_id=reg.product.pk,
            lot_no="B1",
            production_date=dt.date(2027, 1, 1),
            expiry_date=dt.date(2026, 1, 1),
            unit="piece",
        )
    assert "expiry_date" in exc.value.errors
    # Stock is the inventory ledger's sum of movements (ADR 0016): a lot cannot be given a typed quantity.
    with pytest.raises(TypeError, match="quantity"):
        actions.create_lot(
            world.actor("wang"),
            institution_id=reg.jia.pk,
            product_id=reg.product.pk,
            lot_no="B1",
            expiry_date=dt.date(2027, 1, 1),
            unit="piece",
            quantity=Decimal("5"),
        )


def test_recall_needs_a_level_and_reason(reg, world):
    wang = world.actor("wang")
    with pytest.raises(FieldErrors) as exc:
        actions.change_lot_status(wang, reg.lot.pk, status=LotStatus.RECALLED, reason="厂家通知")
    assert "recall_level" in exc.value.errors
    with pytest.raises(FieldErrors):
        actions.change_lot_status(wang, reg.lot.pk, status=LotStatus.RECALLED, recall_level=1)
    actions.change_lot_status(
        wang, reg.lot.pk, status=LotStatus.RECALLED, recall_level=1, reason="厂家一级召回"
    )
    lot = Lot.objects.get(pk=reg.lot.pk)
    assert (lot.status, lot.recall_level) == (LotStatus.RECALLED, 1)
    [entry] = entries(lot, "registry.lot.status_changed")
    assert entry.changes == {"status": ["available", "recalled"], "recall_level": [None, 1]}


def test_it_validates_device_udi_and_derives_due_dates(reg, world):
    wang = world.actor("wang")
    device_product = reg.device.product
    with pytest.raises(FieldErrors) as exc:
        actions.create_device(
            wang, institution_id=reg.jia.pk, product_id=device_product.pk, udi="(01)06901234567893(21)X1"
        )
    assert "udi" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        actions.create_device(wang, institution_id=reg.jia.pk, product_id=device_product.pk)
    assert "serial_no" in exc.value.errors
    drug = BotoxFactory(supplier=reg.supplier)
    with pytest.raises(FieldErrors) as exc:
        actions.create_device(wang, institution_id=reg.jia.pk, product_id=drug.pk, serial_no="HA-1")
    assert "product_id" in exc.value.errors
    device = actions.create_device(
        wang,
        institution_id=reg.jia.pk,
        product_id=device_product.pk,
        udi="(01)06901234567892(21)RF-77",
        last_inspection_on=dt.date(2025, 1, 1),
        inspection_interval_days=30,
    )
    assert device.serial_no == "RF-77"
    assert device.udi_di == "06901234567892"
    assert device.next_inspection_due == dt.date(2025, 1, 31)
    assert device.is_overdue(dt.date(2025, 2, 1))
    assert not device.is_overdue(dt.date(2025, 1, 31))


def test_retiring_a_device_is_audited(reg, world):
    with pytest.raises(FieldErrors):
        actions.change_device_status(world.actor("wang"), reg.device.pk, status=DeviceStatus.RETIRED)
    actions.change_device_status(
        world.actor("wang"), reg.device.pk, status=DeviceStatus.RETIRED, reason="超过使用年限"
    )
    [entry] = entries(reg.device, "registry.device.status_changed")
    assert entry.changes == {"status": ["active", "retired"]}


def test_failed_action_writes_nothing(reg, world):
    before = (Qualification.objects.count(), AuditEntry.objects.count())
    with pytest.raises(FieldErrors):
        actions.create_qualification(
            world.actor("zhao"), practitioner_id=reg.li.pk, kind=QualificationKind.CME_CREDITS
        )
    assert (Qualification.objects.count(), AuditEntry.objects.count()) == before
