"""factory_boy factories: valid objects by default (checksummed codes, valid ID numbers, future expiry).

They write through the ORM for test set-up; behaviour under test goes through ``actions``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone
from stdnum import ean
from stdnum.cn import ric, uscc

from meiguard.core.choices import OrganizationKind
from meiguard.core.models import Organization
from meiguard.registry.choices import (
    DoseUnit,
    LicenceKind,
    ProductCategory,
    ProductKind,
    QualificationKind,
    RiskClass,
)
from meiguard.registry.models import (
    Device,
    DistributionAuthorization,
    Institution,
    Lot,
    Practitioner,
    PractitionerSite,
    Product,
    Qualification,
    Supplier,
    add_years,
)
from meiguard.rules.choices import InstitutionType, PracticeCategory, Profession, Subject, Title


def credit_code(n: int, region: str = "430102") -> str:
    base = f"91{region}{n:09d}"
    return base + uscc.calc_check_digit(base)


def id_number(n: int, region: str = "110105", birth: str = "19850312") -> str:
    body = f"{region}{birth}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def licence_no(n: int, region: str = "430102") -> str:
    return f"{n:08d}X{region}17A1001"


def gtin(n: int) -> str:
    body = f"069{n:010d}"
    return body + ean.calc_check_digit(body)


def today() -> dt.date:
    return timezone.localdate()


class _NormalizingFactory(factory.django.DjangoModelFactory):
    """Runs the model's ``normalize()`` (blind index, derived dates) before saving, like the actions."""

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        obj = model_class(*args, **kwargs)
        if hasattr(obj, "normalize"):
            obj.normalize()
        obj.save()
        return obj


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"机构组织{n}")
    kind = OrganizationKind.INSTITUTION
    province = "湖南"


class InstitutionFactory(_NormalizingFactory):
    class Meta:
        model = Institution

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.LazyAttribute(lambda o: o.organization.name)
    credit_code = factory.Sequence(lambda n: credit_code(n + 1))
    licence_kind = LicenceKind.PRACTICE_LICENCE
    licence_no = factory.Sequence(lambda n: licence_no(n + 1))
    institution_type = InstitutionType.AESTHETIC_CLINIC
    hospital_level = ""
    has_anesthesiology = False
    subjects = factory.LazyFunction(lambda: [Subject.COSMETIC_DERMATOLOGY.value])
    licence_valid_from = factory.LazyFunction(lambda: today() - dt.timedelta(days=365))
    licence_valid_until = factory.LazyFunction(lambda: today() + dt.timedelta(days=4 * 365))
    verification_cycle_years = 1
    last_verified_on = factory.LazyFunction(lambda: today() - dt.timedelta(days=165))
    next_verification_due = factory.LazyAttribute(
        lambda o: add_years(o.last_verified_on, o.verification_cycle_years) if o.last_verified_on else None
    )
    province = factory.LazyAttribute(lambda o: o.organization.province or "湖南")
    city = "长沙"


class PractitionerFactory(_NormalizingFactory):
    class Meta:
        model = Practitioner

    name = factory.Sequence(lambda n: f"医师{n}")
    id_number = factory.Sequence(lambda n: id_number(n + 1))
    profession = Profession.DOCTOR
    licence_no = factory.Sequence(lambda n: f"1104300000{n:05d}")
    practice_category = PracticeCategory.CLINICAL
    practice_scope = "外科"
    main_institution = factory.SubFactory(InstitutionFactory)
    title = Title.ATTENDING
    practising_since = dt.date(2012, 7, 1)


class NurseFactory(PractitionerFactory):
    name = factory.Sequence(lambda n: f"护士{n}")
    profession = Profession.NURSE
    practice_category = PracticeCategory.NURSING
    practice_scope = "护理"
    title = Title.NURSE_PRACTITIONER


class PractitionerSiteFactory(_NormalizingFactory):
    class Meta:
        model = PractitionerSite

    practitioner = factory.SubFactory(PractitionerFactory)
    institution = factory.SubFactory(InstitutionFactory)
    valid_from = factory.LazyFunction(lambda: today() - dt.timedelta(days=30))
    valid_until = factory.LazyFunction(lambda: today() + dt.timedelta(days=335))


class QualificationFactory(_NormalizingFactory):
    class Meta:
        model = Qualification

    practitioner = factory.SubFactory(PractitionerFactory)
    kind = QualificationKind.CHIEF_PHYSICIAN_FILING
    subject = Subject.COSMETIC_SURGERY
    filing_date = dt.date(2020, 5, 1)
    qualifying_years = 8
    issuer = "长沙市卫生健康委员会"
    number = factory.Sequence(lambda n: f"ZZ2020{n:04d}")
    valid_from = dt.date(2020, 5, 1)
    valid_until = factory.LazyFunction(lambda: today() + dt.timedelta(days=3 * 365))


class SupplierOrganizationFactory(OrganizationFactory):
    name = factory.Sequence(lambda n: f"供应商组织{n}")
    kind = OrganizationKind.SUPPLIER
    province = ""


class SupplierFactory(_NormalizingFactory):
    class Meta:
        model = Supplier

    organization = factory.SubFactory(SupplierOrganizationFactory)
    name = factory.LazyAttribute(lambda o: o.organization.name)
    credit_code = factory.Sequence(lambda n: credit_code(n + 5000, region="310115"))
    business_licence_no = factory.LazyAttribute(lambda o: o.credit_code)
    business_licence_valid_from = dt.date(2018, 1, 1)
    business_licence_valid_until = None


class DistributionAuthorizationFactory(_NormalizingFactory):
    class Meta:
        model = DistributionAuthorization

    supplier = factory.SubFactory(SupplierFactory)
    brand = "润百颜"
    registrant = "华熙生物科技股份有限公司"
    valid_from = factory.LazyFunction(lambda: today() - dt.timedelta(days=100))
    valid_until = factory.LazyFunction(lambda: today() + dt.timedelta(days=265))


class ProductFactory(_NormalizingFactory):
    """A Class III hyaluronic-acid filler by default (DD-02)."""

    class Meta:
        model = Product

    generic_name = "注射用修饰透明质酸钠凝胶"
    brand_name = factory.Sequence(lambda n: f"玻尿酸{n}")
    kind = ProductKind.DEVICE
    registration_no = factory.Sequence(lambda n: f"国械注准2015313{n % 10000:04d}")
    registrant = "华熙生物科技股份有限公司"
    registration_valid_until = factory.LazyFunction(lambda: today() + dt.timedelta(days=3 * 365))
    risk_class = RiskClass.CLASS_III
    high_risk = True
    category = ProductCategory.HYALURONIC_ACID
    dose_unit = DoseUnit.ML
    supplier = factory.SubFactory(SupplierFactory)


class BotoxFactory(ProductFactory):
    generic_name = "注射用A型肉毒毒素"
    kind = ProductKind.DRUG
    registration_no = factory.Sequence(lambda n: f"国药准字S2019{n % 10000:04d}")
    risk_class = ""  # type: ignore[assignment]  # drugs have no device risk class
    category = ProductCategory.BOTULINUM_TOXIN_A
    dose_unit = DoseUnit.U


class EnergyDeviceFactory(ProductFactory):
    generic_name = "射频治疗仪"
    registration_no = factory.Sequence(lambda n: f"国械注进2019309{n % 10000:04d}")
    high_risk = False
    category = ProductCategory.ENERGY_DEVICE
    dose_unit = DoseUnit.SHOT


class LotFactory(_NormalizingFactory):
    class Meta:
        model = Lot

    product = factory.SubFactory(ProductFactory)
    lot_no = factory.Sequence(lambda n: f"L2025{n:05d}")
    production_date = factory.LazyFunction(lambda: today() - dt.timedelta(days=60))
    expiry_date = factory.LazyFunction(lambda: today() + dt.timedelta(days=700))
    quantity = Decimal("10")
    unit = DoseUnit.PIECE
    institution = factory.SubFactory(InstitutionFactory)


class DeviceFactory(_NormalizingFactory):
    class Meta:
        model = Device

    product = factory.SubFactory(EnergyDeviceFactory)
    serial_no = factory.Sequence(lambda n: f"SN{n:06d}")
    udi = factory.LazyAttribute(lambda o: f"(01){gtin(7)}(21){o.serial_no}")
    institution = factory.SubFactory(InstitutionFactory)
    last_inspection_on = factory.LazyFunction(lambda: today() - dt.timedelta(days=10))
    inspection_interval_days = 90
    last_calibration_on = factory.LazyFunction(lambda: today() - dt.timedelta(days=10))
    calibration_interval_days = 365
