import pytest

from meiguard.registry import queries
from meiguard.rules.choices import HospitalLevel, InstitutionType, Subject

from .factories import InstitutionFactory

SURGERY = [Subject.COSMETIC_SURGERY.value]


@pytest.fixture
def packs(db):
    from meiguard.rules.testing import load_builtin_packs

    return load_builtin_packs()


@pytest.mark.parametrize(
    ("institution_type", "level", "anesthesiology", "province", "expected"),
    [
        (InstitutionType.AESTHETIC_CLINIC, "", False, "湖南", 1),
        (InstitutionType.AESTHETIC_OUTPATIENT_DEPT, "", False, "湖南", 1),
        (InstitutionType.AESTHETIC_OUTPATIENT_DEPT, "", True, "湖南", 2),
        (InstitutionType.COSMETIC_HOSPITAL, "", True, "湖南", 3),
        (InstitutionType.GENERAL_HOSPITAL, HospitalLevel.LEVEL_3, True, "湖南", 4),
        (InstitutionType.GENERAL_HOSPITAL, HospitalLevel.LEVEL_3, True, "北京", 4),
        (InstitutionType.AESTHETIC_CLINIC, "", False, "北京", 1),
    ],
)
def test_it_derives_the_permitted_grade_from_the_rule_pack(
    packs, institution_type, level, anesthesiology, province, expected
):
    institution = InstitutionFactory(
        institution_type=institution_type,
        hospital_level=level,
        has_anesthesiology=anesthesiology,
        province=province,
        subjects=SURGERY,
        verification_cycle_years=1,
    )
    grade = queries.permitted_grade(institution)
    assert grade.grade == expected
    assert grade.rule_id
    assert grade.pack
    assert grade.version is not None
    assert grade.source


def test_it_reports_no_grade_without_an_active_pack(db):
    institution = InstitutionFactory(subjects=SURGERY)
    grade = queries.permitted_grade(institution)
    assert grade.grade is None
    assert "规则包" in str(grade.message)
