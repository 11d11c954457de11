"""A cosmetic hospital that may perform grade-3 surgery, built through the project's own domain actions.

丙美容医院 (湖南, 美容医院 → grade 3 by IN-03.cosmetic-hospital, 美容外科 registered, 麻醉科 set up):

- ``chen`` 陈医生: 美容外科主诊 filed (执业范围 外科, 8 years), with the institution's surgical-grading
  authorization for 美容外科 up to grade 3 (SP-02.surgical-grading);
- ``lu`` 陆医生: anaesthetist (执业范围 麻醉科) with the anaesthesia privilege (category 麻醉) up to grade 3;
- ``he`` 何护士: the operating-room nurse;
- ``xu`` (医务科, compliance officer), ``lin`` (a doctor) and ``bing`` (the admin): the 医疗质量与安全管理委员会,
  2 of 3 to approve;
- a published price and a consent template for the full-face and neck lift, a client 林女士 with the PIPL
  separate consent, and a lot of absorbable sutures (a Class II material, not high-risk) with a GS1 code.

The grade-3 item is ``surg-full-face-neck-lift`` (全颜面及颌颈部除皱术, grade 3, general anaesthesia) from the
shipped catalog; no technology authorization applies (SP-02.new-technology lists only items outside the 2009
catalog). Passwords follow the personas' pattern, ``pw-<username>-123456``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from meiguard.authz import snapshot
from meiguard.authz.models import Authorization
from meiguard.authz.tests.conftest import (
    FAR,
    PAST,
    SYSTEM,
    authorize,
    credit_code,
    id_number,
    make_doctor,
    make_institution,
)
from meiguard.clinical import actions
from meiguard.clinical.models import Client
from meiguard.core.access import Actor, build_actor
from meiguard.core.choices import OrganizationKind, Role
from meiguard.core.models import Membership, Organization, User
from meiguard.registry import actions as reg
from meiguard.registry.models import Institution, Lot, Practitioner
from meiguard.registry.tests.factories import gtin
from meiguard.rules.testing import load_builtin_packs
from meiguard.workflow import actions as wf
from meiguard.workflow.models import ExpertCommittee

LIFT = "surg-full-face-neck-lift"  # 全颜面及颌颈部除皱术: grade 3, general anaesthesia
SUTURE_GTIN = gtin(77)


@dataclass
class Hospital:
    org: Organization
    inst: Institution
    surgeon: Practitioner
    anesthetist: Practitioner
    nurse: Practitioner
    client: Client
    committee: ExpertCommittee
    lot: Lot
    users: dict[str, User] = field(default_factory=dict)
    auths: dict[str, Authorization] = field(default_factory=dict)

    def actor(self, username: str) -> Actor:
        return build_actor(self.users[username])

    @property
    def suture_code(self) -> str:
        """The suture lot's GS1 string as a scanner sends it (GTIN, expiry, lot)."""
        return f"(01){SUTURE_GTIN}(17)301231(10){self.lot.lot_no}"


def _user(org: Organization, username: str, role: str) -> User:
    user = User.objects.create_user(
        username=username, password=f"pw-{username}-123456", display_name=username
    )
    Membership.objects.create(user=user, organization=org, role=role)
    return user


def _nurse(inst: Institution, user: User) -> Practitioner:
    return reg.create_practitioner(
        SYSTEM,
        main_institution_id=inst.pk,
        name="何护士",
        id_number=id_number(),
        profession="nurse",
        licence_no="N2019000777",
        practice_category="nursing",
        practice_scope="护理",
        title="nurse",
        practising_since=dt.date(2016, 7, 1),
        user_id=user.pk,
    )


def _sutures(inst: Institution) -> Lot:
    supplier = reg.create_supplier(
        SYSTEM,
        name="湘雅医疗器械供应链",
        credit_code=credit_code(),
        business_licence_no=credit_code(),
        business_licence_valid_from=PAST,
    )
    reg.create_distribution_authorization(
        SYSTEM, supplier_id=supplier.pk, brand="维乔", registrant="维乔医疗", valid_from=PAST, valid_until=FAR
    )
    product = reg.create_product(
        SYSTEM,
        supplier_id=supplier.pk,
        udi_di=SUTURE_GTIN,
        generic_name="可吸收性外科缝线",
        brand_name="维乔",
        kind="material",
        registration_no="湘械注准20202021234",
        registrant="维乔医疗",
        registration_valid_until=FAR,
        risk_class="II",
        category="other",
        dose_unit="piece",
    )
    return reg.create_lot(
        SYSTEM,
        institution_id=inst.pk,
        product_id=product.pk,
        lot_no="SW2026031",
        expiry_date=FAR,
        unit="piece",
    )


def build_hospital() -> Hospital:
    load_builtin_packs()
    snapshot.clear()
    org = Organization.objects.create(name="丙美容医院", kind=OrganizationKind.INSTITUTION, province="湖南")
    users = {
        name: _user(org, name, role)
        for name, role in (
            ("bing", Role.INSTITUTION_ADMIN),
            ("xu", Role.COMPLIANCE_OFFICER),
            ("chen", Role.DOCTOR),
            ("lu", Role.DOCTOR),
            ("lin", Role.DOCTOR),
            ("he", Role.NURSE),
        )
    }
    inst = make_institution(
        org.pk,
        "丙美容医院",
        institution_type="cosmetic_hospital",
        has_anesthesiology=True,
        subjects=["cosmetic_surgery", "cosmetic_dermatology"],
    )
    surgeon = make_doctor(
        inst, "陈医生", subject="cosmetic_surgery", scope="外科", trainings=(), user_id=users["chen"].pk
    )
    anesthetist = make_doctor(inst, "陆医生", scope="麻醉科", trainings=(), user_id=users["lu"].pk)
    make_doctor(
        inst, "林医生", subject="cosmetic_surgery", scope="外科", trainings=(), user_id=users["lin"].pk
    )
    nurse = _nurse(inst, users["he"])
    auths = {
        # 手术分级授权: 美容外科 up to grade 3 (the institution's surgical-grading privilege).
        "grading": authorize(inst, surgeon, procedure_code="", subject="cosmetic_surgery", max_grade=3),
        # 麻醉权限 of the anaesthetist, up to grade 3.
        "anesthesia": authorize(inst, anesthetist, procedure_code="", procedure_category="麻醉", max_grade=3),
    }
    admin = build_actor(users["bing"])
    committee = wf.save_committee(
        admin,
        institution_id=inst.pk,
        name="医疗质量与安全管理委员会",
        quorum=2,
        member_ids=[users["bing"].pk, users["xu"].pk, users["lin"].pk],
    )
    actions.set_price(admin, inst.pk, procedure_code=LIFT, price=Decimal("68000"))
    actions.create_consent_template(
        admin,
        institution_id=inst.pk,
        procedure_code=LIFT,
        title="全颜面及颌颈部除皱术知情同意书",
        body="手术目的、方法、气管插管全身麻醉与术后护理。",
        risks="出血、血肿、感染、面神经损伤、瘢痕、两侧不对称,麻醉意外。",
        alternatives="不手术;线雕提升或注射等非手术方法。",
    )
    office = build_actor(users["xu"])
    client = actions.create_client(
        office,
        institution_id=inst.pk,
        data={
            "name": "林女士",
            "date_of_birth": dt.date(1978, 9, 12),
            "phone": "13900007777",
            "document_type": "resident_id",
            "id_number": id_number(),
        },
    )
    actions.grant_privacy_consent(
        office,
        client.pk,
        purpose="诊疗、术前评估与术后随访",
        scope=["health", "photos", "id_document"],
        retention_years=30,
        notice_version="2026-1",
    )
    return Hospital(
        org=org,
        inst=inst,
        surgeon=surgeon,
        anesthetist=anesthetist,
        nurse=nurse,
        client=client,
        committee=committee,
        lot=_sutures(inst),
        users=users,
        auths=auths,
    )


@pytest.fixture
def hospital(db) -> Hospital:
    return build_hospital()
