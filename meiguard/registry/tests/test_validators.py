import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from meiguard.registry import validators as v
from meiguard.registry.choices import ProductKind, RiskClass

from .factories import credit_code, gtin, id_number


def test_it_accepts_credit_code_with_correct_checksum():
    v.validate_credit_code(credit_code(42))
    v.validate_credit_code(credit_code(42).lower())  # normalised


def test_it_rejects_credit_code_with_wrong_checksum():
    good = credit_code(42)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ValidationError, match="统一社会信用代码"):
        v.validate_credit_code(bad)


@pytest.mark.parametrize("value", ["", "12345", "91430102MA4L1234I7"])
def test_it_rejects_malformed_credit_codes(value):
    with pytest.raises(ValidationError):
        v.validate_credit_code(value)


@pytest.mark.parametrize(
    "value", ["PDY00001X11010517A1001", "42606123X44030417A1001", "PDY00001X11010517A10012"]
)
def test_it_accepts_licence_numbers(value):
    v.validate_licence_no(value)


@pytest.mark.parametrize(
    "value", ["PDY00001X", "PDY00001XAB010517A1001", "pdy00001x11010517a1001", "PDY00001X110105-7A1001"]
)
def test_it_rejects_bad_licence_numbers(value):
    with pytest.raises(ValidationError, match="登记号"):
        v.validate_licence_no(value)


def test_it_checks_clinic_filing_numbers():
    v.validate_clinic_filing_no("京朝卫诊备字〔2023〕第001号")
    with pytest.raises(ValidationError):
        v.validate_clinic_filing_no("abc")


def test_it_accepts_a_valid_id_number():
    v.validate_id_number(id_number(7))


def _wrong_check_digit() -> str:
    good = id_number(7)
    return good[:-1] + ("1" if good[-1] != "1" else "2")


@pytest.mark.parametrize("value", [_wrong_check_digit(), "11010519850312007", "110105198513120070", "ABCDEF"])
def test_it_rejects_invalid_id_numbers(value):
    with pytest.raises(ValidationError, match="身份证号"):
        v.validate_id_number(value)


@pytest.mark.parametrize(
    ("number", "kind", "risk"),
    [
        ("国械注准20153131234", ProductKind.DEVICE, RiskClass.CLASS_III),
        ("国械注进20193091234", ProductKind.DEVICE, RiskClass.CLASS_III),
        ("国械注进20192091234", ProductKind.DEVICE, RiskClass.CLASS_II),
        ("国械注许20203141234", ProductKind.MATERIAL, RiskClass.CLASS_III),
        ("湘械注准20202140001", ProductKind.DEVICE, RiskClass.CLASS_II),
        ("京朝械备20150001号", ProductKind.DEVICE, RiskClass.CLASS_I),
        ("国药准字S20190001", ProductKind.DRUG, ""),
        ("国药准字HJ20170001", ProductKind.DRUG, ""),
        ("国药准字ZC20200002", ProductKind.DRUG, ""),
    ],
)
def test_it_accepts_registration_numbers_allowed_for_the_kind(number, kind, risk):
    v.validate_registration_no(number, kind, risk)


@pytest.mark.parametrize(
    ("number", "kind", "risk"),
    [
        ("国药准字S20190001", ProductKind.DEVICE, RiskClass.CLASS_III),  # drug number on a device
        ("国械注准20153131234", ProductKind.DRUG, ""),  # device number on a drug
        ("国械注准2015313123", ProductKind.DEVICE, RiskClass.CLASS_III),  # too short
        ("国械注准20154131234", ProductKind.DEVICE, RiskClass.CLASS_III),  # class digit 4
        ("沪械注进20152131234", ProductKind.DEVICE, RiskClass.CLASS_II),  # province + import
        ("湘械注准20203140001", ProductKind.DEVICE, RiskClass.CLASS_III),  # province registers class III
        ("国械注准20152131234", ProductKind.DEVICE, RiskClass.CLASS_II),  # domestic class II nationally
        ("国械注准20153131234", ProductKind.DEVICE, RiskClass.CLASS_II),  # class digit ≠ risk class
        ("京朝械备20150001号", ProductKind.DEVICE, RiskClass.CLASS_III),  # filing for class III
        ("国药准字X20190001", ProductKind.DRUG, ""),
        ("国食药监械(准)字2012第3461234号", ProductKind.DEVICE, RiskClass.CLASS_III),  # pre-2014 format
    ],
)
def test_it_rejects_registration_numbers_not_allowed_for_the_kind(number, kind, risk):
    with pytest.raises(ValidationError):
        v.validate_registration_no(number, kind, risk)


def test_it_parses_a_gs1_udi():
    udi = v.parse_udi(f"(01){gtin(3)}(11)240105(17)270100(10)L01(21)SN9")
    assert udi.gtin == gtin(3)
    assert udi.serial == "SN9"
    assert udi.lot == "L01"
    assert udi.production_date == dt.date(2024, 1, 5)
    assert udi.expiry == dt.date(2027, 1, 31)  # day 00 = end of month


def test_it_rejects_udi_with_bad_gtin_check_digit():
    good = gtin(3)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(ValidationError, match="校验位"):
        v.parse_udi(f"(01){bad}(21)SN9")


@pytest.mark.parametrize(
    "value",
    [
        "(21)SN9",
        "0106901234567892",
        "(01)123(21)X",
        "(01)06901234567892(99)X",
        "(01)06901234567892(17)271399",
    ],
)
def test_it_rejects_malformed_udis(value):
    with pytest.raises(ValidationError):
        v.parse_udi(value)


def test_it_rejects_evidence_of_wrong_type():
    with pytest.raises(ValidationError, match="类型"):
        v.validate_evidence_file(SimpleUploadedFile("x.exe", b"MZ"))


def test_it_rejects_evidence_over_the_size_limit(settings):
    settings.EVIDENCE_MAX_BYTES = 10
    with pytest.raises(ValidationError, match="过大"):
        v.validate_evidence_file(SimpleUploadedFile("x.pdf", b"%PDF-" + b"0" * 20))
    v.validate_evidence_file(SimpleUploadedFile("y.PNG", b"12345"))
