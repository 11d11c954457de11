from __future__ import annotations

from types import SimpleNamespace

import pytest

from meiguard.core.choices import OrganizationKind, Role
from meiguard.core.models import Membership, Organization, User
from meiguard.rules.choices import HospitalLevel, InstitutionType, Subject

from .factories import (
    DeviceFactory,
    InstitutionFactory,
    LotFactory,
    PractitionerFactory,
    ProductFactory,
    QualificationFactory,
    SupplierFactory,
)


@pytest.fixture
def reg(world):
    """Registry data on top of the personas: 甲诊所 (湖南 clinic) and 乙医院 (北京 三级综合医院)."""
    jia = InstitutionFactory(organization=world.org_jia, name="甲诊所", province="湖南", city="长沙")
    yi = InstitutionFactory(
        organization=world.org_yi,
        name="乙医院",
        province="北京",
        city="北京",
        institution_type=InstitutionType.GENERAL_HOSPITAL,
        hospital_level=HospitalLevel.LEVEL_3,
        has_anesthesiology=True,
        verification_cycle_years=3,
        subjects=[Subject.COSMETIC_SURGERY.value, Subject.COSMETIC_DERMATOLOGY.value],
    )
    li = PractitionerFactory(main_institution=jia, name="李医生", user=world.users["li"])
    outsider = PractitionerFactory(main_institution=yi, name="孙医生")
    supplier_org = Organization.objects.create(name="华东医药供应链", kind=OrganizationKind.SUPPLIER)
    zhou = User.objects.create_user(username="zhou", password="pw-zhou-123456", display_name="zhou")
    Membership.objects.create(user=zhou, organization=supplier_org, role=Role.SUPPLIER_ADMIN)
    world.users["zhou"] = zhou
    supplier = SupplierFactory(organization=supplier_org, name="华东医药供应链")
    product = ProductFactory(supplier=supplier)
    return SimpleNamespace(
        jia=jia,
        yi=yi,
        li=li,
        outsider=outsider,
        qualification=QualificationFactory(practitioner=li),
        outsider_qualification=QualificationFactory(practitioner=outsider),
        supplier=supplier,
        product=product,
        lot=LotFactory(product=product, institution=jia),
        outsider_lot=LotFactory(product=product, institution=yi),
        device=DeviceFactory(institution=jia),
        outsider_device=DeviceFactory(institution=yi),
    )
