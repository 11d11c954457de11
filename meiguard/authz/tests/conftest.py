"""A clinic built through the registry's own actions: 甲门诊部 (湖南, grade 2) where 李医生 may inject 衡力
botulinum toxin and operate an RF device; 乙医院 (北京) belongs to the outsider ``sun``."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from meiguard.authz import actions as authz_actions
from meiguard.authz import snapshot
from meiguard.authz.models import Authorization
from meiguard.core.access import Actor
from meiguard.demo import codes
from meiguard.registry import actions as reg
from meiguard.registry.models import Device, Institution, Lot, Practitioner, Product
from meiguard.rules.testing import load_builtin_packs

SYSTEM = Actor.system("tests")
_serial = itertools.count(1)


def credit_code() -> str:
    return codes.credit_code(next(_serial))


def id_number() -> str:
    return codes.id_number(next(_serial))


def licence_no() -> str:
    return f"PDY{next(_serial):06d}430102{next(_serial):07d}"


TODAY = dt.date(2026, 3, 3)
FAR = dt.date(2030, 12, 31)
PAST = dt.date(2020, 1, 1)


def make_institution(org_id: int, name: str, *, province: str = "湖南", **extra: object) -> Institution:
    fields = dict(
        name=name,
        credit_code=credit_code(),
        licence_kind="practice_licence",
        licence_no=licence_no(),
        institution_type="aesthetic_outpatient_dept",
        has_anesthesiology=True,
        subjects=["cosmetic_surgery", "cosmetic_dermatology"],
        licence_valid_from=PAST,
        licence_valid_until=FAR,
        verification_cycle_years=1,
        next_verification_due=FAR,
        province=province,
        city="长沙",
    )
    fields.update(extra)
    return reg.create_institution(SYSTEM, organization_id=org_id, **fields)


def make_doctor(
    inst: Institution,
    name: str,
    *,
    subject: str = "cosmetic_dermatology",
    scope: str = "皮肤病与性病",
    trainings: tuple[str, ...] = ("衡力", "热玛吉-FLX"),
    user_id: int | None = None,
) -> Practitioner:
    doc = reg.create_practitioner(
        SYSTEM,
        main_institution_id=inst.pk,
        name=name,
        id_number=id_number(),
        profession="doctor",
        licence_no=f"110{next(_serial):012d}",
        practice_category="clinical",
        practice_scope=scope,
        title="attending",
        practising_since=dt.date(2012, 7, 1),
        user_id=user_id,
    )
    licence = reg.create_qualification(
        SYSTEM,
        practitioner_id=doc.pk,
        kind="practice_licence",
        number=f"L{doc.pk:08d}",
        issuer="卫健委",
        valid_from=PAST,
        valid_until=FAR,
    )
    reg.verify_qualification(SYSTEM, licence.pk, status="verified", note="原件核对")
    reg.create_qualification(
        SYSTEM,
        practitioner_id=doc.pk,
        kind="chief_physician_filing",
        subject=subject,
        filing_date=dt.date(2018, 1, 1),
        qualifying_years=8,
        issuer="卫健委",
        valid_from=PAST,
        valid_until=FAR,
    )
    for brand in trainings:
        reg.create_qualification(
            SYSTEM,
            practitioner_id=doc.pk,
            kind="training_certificate",
            product_reference=brand,
            issuer="厂家",
            number=f"T-{brand}-{doc.pk}",
            valid_from=PAST,
            valid_until=FAR,
        )
    if inst.province == "北京":  # PR-05 (cn-bj): periodic assessment passed and ≥ 1 year of 进修
        reg.create_qualification(
            SYSTEM,
            practitioner_id=doc.pk,
            kind="periodic_assessment",
            issuer="北京市卫生健康委",
            valid_from=PAST,
            valid_until=FAR,
        )
        reg.create_qualification(
            SYSTEM, practitioner_id=doc.pk, kind="aesthetic_training", issuer="协和医院", duration_months=12
        )
    return doc


@dataclass
class Clinic:
    world: object
    jia: Institution
    yi: Institution
    li: Practitioner
    sun_doctor: Practitioner
    toxin: Product
    rf: Product
    lot: Lot
    device: Device
    auths: dict[str, Authorization] = field(default_factory=dict)

    def request(self, **changes: object):
        base = dict(
            institution_id=self.jia.pk,
            practitioner_id=self.li.pk,
            procedure_code="derm-botulinum-toxin-injection",
            at=timezone.make_aware(dt.datetime(2026, 3, 3, 10, 0)),
            products=(snapshot_product(self.lot.pk, 50),),
            device_ids=(self.device.pk,),
        )
        base.update(changes)
        return authz_actions.as_request(**base)

    def payload(self, **changes: object) -> dict[str, object]:
        base: dict[str, object] = {
            "institution_id": self.jia.pk,
            "practitioner_id": self.li.pk,
            "procedure_code": "derm-botulinum-toxin-injection",
            "at": "2026-03-03T10:00:00+08:00",
            "products": [{"lot_id": self.lot.pk, "dose_value": "50", "dose_unit": "U"}],
            "device_ids": [self.device.pk],
        }
        base.update(changes)
        return base


def snapshot_product(lot_id: int, dose: int | None, unit: str = "U"):
    from meiguard.authz.facts import ProductUse

    return ProductUse(lot_id, Decimal(dose) if dose is not None else None, unit if dose is not None else None)


def authorize(
    inst: Institution, doc: Practitioner, kind: str = "qualification", **data: object
) -> Authorization:
    payload: dict[str, object] = {
        "kind": kind,
        "practitioner_id": doc.pk,
        "valid_from": PAST,
        "valid_until": FAR,
    }
    if kind == "qualification":
        payload["procedure_code"] = "derm-botulinum-toxin-injection"
    payload.update(data)
    return authz_actions.create_authorization(SYSTEM, institution_id=inst.pk, data=payload, activate=True)


@dataclass
class Stock:
    """The supplier and what 甲 holds of it: 衡力 (toxin, high-risk) with lot B2026001, 热玛吉-FLX (Class III
    RF device) with device RF-0001, both with distribution authorizations."""

    supplier: Any
    toxin: Product
    rf: Product
    lot: Lot
    device: Device


def make_stock(jia: Institution, *, inspected_on: dt.date) -> Stock:
    supplier = reg.create_supplier(
        SYSTEM,
        name="华东医药供应链",
        credit_code=credit_code(),
        business_licence_no=credit_code(),
        business_licence_valid_from=PAST,
    )
    reg.create_distribution_authorization(
        SYSTEM,
        supplier_id=supplier.pk,
        brand="衡力",
        registrant="兰州生物制品研究所",
        valid_from=PAST,
        valid_until=FAR,
    )
    reg.create_distribution_authorization(
        SYSTEM,
        supplier_id=supplier.pk,
        brand="热玛吉-FLX",
        registrant="Solta",
        valid_from=PAST,
        valid_until=FAR,
    )
    toxin = reg.create_product(
        SYSTEM,
        supplier_id=supplier.pk,
        generic_name="注射用A型肉毒毒素",
        brand_name="衡力",
        kind="drug",
        registration_no="国药准字S10970037",
        registrant="兰州生物制品研究所",
        registration_valid_until=FAR,
        high_risk=True,
        category="botulinum_toxin_a",
        dose_unit="U",
    )
    rf = reg.create_product(
        SYSTEM,
        supplier_id=supplier.pk,
        generic_name="射频治疗仪",
        brand_name="热玛吉-FLX",
        kind="device",
        registration_no="国械注进20173091234",
        registrant="Solta",
        registration_valid_until=FAR,
        risk_class="III",
        category="energy_device",
        dose_unit="shot",
    )
    lot = reg.create_lot(
        SYSTEM,
        institution_id=jia.pk,
        product_id=toxin.pk,
        lot_no="B2026001",
        expiry_date=FAR,
        unit="piece",
    )
    device = reg.create_device(
        SYSTEM,
        institution_id=jia.pk,
        product_id=rf.pk,
        serial_no="RF-0001",
        last_inspection_on=inspected_on,
        inspection_interval_days=365,
        last_calibration_on=inspected_on,
        calibration_interval_days=365,
    )
    return Stock(supplier, toxin, rf, lot, device)


@pytest.fixture
def clinic(world) -> Clinic:
    load_builtin_packs()
    snapshot.clear()
    jia = make_institution(world.org_jia.pk, "甲诊所")
    yi = make_institution(
        world.org_yi.pk,
        "乙医院",
        province="北京",
        institution_type="cosmetic_hospital",
        subjects=["cosmetic_surgery", "cosmetic_dermatology", "cosmetic_dentistry", "cosmetic_tcm"],
    )
    li = make_doctor(jia, "李医生", user_id=world.users["li"].pk)
    sun_doctor = make_doctor(yi, "孙医生")
    stock = make_stock(jia, inspected_on=TODAY)
    toxin, rf, lot, device = stock.toxin, stock.rf, stock.lot, stock.device
    c = Clinic(world, jia, yi, li, sun_doctor, toxin, rf, lot, device)
    c.auths["procedure"] = authorize(jia, li)
    c.auths["product"] = authorize(jia, li, "product", product_brand="衡力")
    c.auths["device"] = authorize(jia, li, "device", device_model="热玛吉-FLX")
    return c
