"""Provincial overlays (Beijing) and the IN-03 grade derivation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from meiguard.rules import services
from meiguard.rules.choices import HospitalLevel, InstitutionType

from .helpers import edit, load_and_publish

pytestmark = pytest.mark.django_db

ON = dt.date(2024, 6, 1)


def test_beijing_chief_physician_needs_attending_title_and_training(builtin):
    national = services.resolve("湖南", ON).chief_requirement("cosmetic_surgery")
    beijing = services.resolve("北京", ON).chief_requirement("美容外科")
    assert national.min_title == "none"
    assert beijing.min_title == "attending"
    assert national.title_ok("resident") is True
    assert beijing.title_ok("resident") is False
    assert beijing.title_ok("associate_chief") is True
    assert national.training_min_years == Decimal("0")
    assert beijing.training_min_years == Decimal("1")
    assert beijing.periodic_assessment_required is True
    assert beijing.min_years == national.min_years == 6
    assert [r.pack for r in beijing.rules] == ["cn-bj", "cn-bj"]
    assert beijing.rules[0].source == "《北京市卫生健康委员会 医疗美容主诊医师专业备案问答》"
    assert [c.doc for c in beijing.rules[0].citations] == ["beijing-chief-filing-qa"]
    assert beijing.rules[0].citations[0].kind == "provincial"
    assert (beijing.rules[0].layer, beijing.rules[0].pack_label) == ("provincial", "北京 v1")
    ref = national.rules[0]
    assert (ref.pack, ref.version, ref.rule_id, ref.layer) == (
        "cn-national",
        1,
        "PR-02.cosmetic_surgery",
        "national",
    )
    assert [(c.doc, c.article) for c in ref.citations] == [
        ("measures", "第十一条"),
        ("chief-filing-2017", ""),
    ]
    assert ref.source.startswith("《医疗美容服务管理办法》第十一条(卫生部令第19号)")
    assert ref.pack_label == "全国基线 v1"


def test_beijing_scope_mapping_omits_ent_and_paediatrics(builtin):
    national = services.resolve("湖南", ON).chief_requirement("cosmetic_surgery")
    beijing = services.resolve("北京", ON).chief_requirement("cosmetic_surgery")
    assert national.accepted_scopes == ("外科", "眼耳鼻咽喉科", "口腔颌面外科", "儿外科")
    assert beijing.accepted_scopes == ("外科", "口腔颌面外科")
    assert national.scope_ok(["眼耳鼻咽喉科"]) is True
    assert beijing.scope_ok(["眼耳鼻咽喉科"]) is False
    assert beijing.scope_ok(["外科"]) is True


def test_beijing_adds_a_rule_and_keeps_the_rest(builtin):
    national = services.resolve("湖南", ON)
    beijing = services.resolve("北京", ON)
    assert beijing.version_label == "全国基线 v1 + 北京 v1 + 机构规范模板 v1"
    assert beijing.requirement("institution_grade_approval_required").value is True
    assert national.requirement("institution_grade_approval_required") is None
    assert set(beijing.rules) - set(national.rules) == {"BJ.institution-grade-approval"}
    assert beijing.procedures == national.procedures
    assert beijing.warnings == ()


IN_03 = [
    # institution type, hospital level, has 麻醉科, expected grade, rule id
    (InstitutionType.AESTHETIC_CLINIC, None, False, 1, "IN-03.clinic"),
    (InstitutionType.AESTHETIC_OUTPATIENT_DEPT, None, False, 1, "IN-03.outpatient"),
    (InstitutionType.AESTHETIC_OUTPATIENT_DEPT, None, True, 2, "IN-03.outpatient-anesthesiology"),
    (InstitutionType.GENERAL_HOSPITAL, HospitalLevel.LEVEL_1, False, 1, "IN-03.general-level-1"),
    (InstitutionType.GENERAL_HOSPITAL, HospitalLevel.LEVEL_2, True, 2, "IN-03.general-level-2"),
    (InstitutionType.GENERAL_HOSPITAL, HospitalLevel.LEVEL_3, False, 4, "IN-03.general-level-3"),
    (InstitutionType.COSMETIC_HOSPITAL, None, True, 3, "IN-03.cosmetic-hospital"),
    (InstitutionType.PLASTIC_SURGERY_HOSPITAL, HospitalLevel.LEVEL_3, False, 4, "IN-03.plastic-level-3"),
    (InstitutionType.PLASTIC_SURGERY_HOSPITAL, HospitalLevel.LEVEL_2, False, 0, "IN-03.unlisted"),
    (InstitutionType.GENERAL_HOSPITAL, None, False, 0, "IN-03.unlisted"),
]


@pytest.mark.parametrize("province", ["湖南", "北京"])
@pytest.mark.parametrize(("itype", "level", "anesth", "grade", "rule_id"), IN_03)
def test_it_derives_the_permitted_grade_per_in_03(builtin, province, itype, level, anesth, grade, rule_id):
    derived = services.derive_permitted_grade(
        province=province,
        institution_type=itype,
        hospital_level=level,
        subjects=["cosmetic_surgery"],
        has_anesthesiology=anesth,
        on=ON,
    )
    assert derived.grade == grade
    assert derived.rule.rule_id == rule_id
    assert derived.rule.pack == "cn-national"
    assert derived.rule.source.startswith("《医疗美容项目分级管理目录》")
    assert derived.rule.citations[0].doc == "grading-catalog-2009"
    assert derived.rule.citations[0].number == "卫办医政发〔2009〕220号"


def test_without_cosmetic_surgery_no_graded_surgery_is_allowed(builtin):
    derived = services.derive_permitted_grade(
        province="湖南",
        institution_type=InstitutionType.GENERAL_HOSPITAL,
        hospital_level=HospitalLevel.LEVEL_3,
        subjects=["cosmetic_dermatology", "cosmetic_tcm"],
        has_anesthesiology=True,
        on=ON,
    )
    assert derived.grade == 0
    assert (derived.rule.pack, derived.rule.version, derived.rule.rule_id) == (
        "cn-national",
        1,
        "IN-03.surgery-subject",
    )
    assert [c.doc for c in derived.rule.citations] == ["grading-catalog-2009", "measures"]
    assert derived.rule.source.startswith("《医疗美容项目分级管理目录》")


def test_subjects_may_be_given_by_chinese_name(builtin):
    derived = services.derive_permitted_grade(
        province="湖南",
        institution_type=InstitutionType.AESTHETIC_CLINIC,
        hospital_level=None,
        subjects=["美容外科"],
        has_anesthesiology=False,
        on=ON,
    )
    assert derived.grade == 1


def test_an_overlay_can_add_remove_and_regrade_items(builtin, pack_copy):
    path = pack_copy("cn-bj", "cn-bj-v2")
    edit(
        path,
        ("version: 1", "version: 2"),
        ("effective_from: 2017-03-17", "effective_from: 2025-01-01"),
        (
            "change:\n",
            "change:\n"
            "  - id: procedure.surg-brow-lift\n"
            "    set: {grade: 2, anesthesia_max: epidural-iv}\n"
            "    cites: [beijing-grade-approval-form]\n"
            "  - id: IN-03.cosmetic-hospital\n"
            "    set: {max_grade: 4}\n"
            "    cites: [beijing-grade-approval-form]\n",
        ),
    )
    with (path / "pack.yaml").open("a", encoding="utf-8") as handle:
        handle.write(
            "remove:\n"
            "  - id: procedure.surg-eyebrow-reshaping\n"
            "    cites: [beijing-grade-approval-form]\n"
            "procedures:\n"
            "  file: extra.csv\n"
            "  cites: [beijing-grade-approval-form]\n"
        )
    (path / "extra.csv").write_text(
        "code,subject,category,name_zh,name_en,grade,invasive,anesthesia_max,source\n"
        "bj-thread-lift,美容外科,面部,埋线提升(北京),Thread lift (Beijing),2,surgical,epidural-iv,test|read\n",
        encoding="utf-8",
    )
    load_and_publish(path)
    before = services.resolve("北京", dt.date(2024, 12, 31))
    after = services.resolve("北京", dt.date(2025, 1, 1))
    assert before.procedures["surg-brow-lift"].grade == 1
    assert after.procedures["surg-brow-lift"].grade == 2
    brow = after.procedures["surg-brow-lift"].rule
    assert (brow.pack, brow.version, brow.rule_id) == ("cn-bj", 2, "procedure.surg-brow-lift")
    assert [c.doc for c in brow.citations] == ["beijing-grade-approval-form"]
    assert brow.source == brow.citations[0].text("zh-hans")
    assert "surg-eyebrow-reshaping" not in after.procedures
    assert after.procedures["bj-thread-lift"].grade == 2
    assert after.procedures["bj-thread-lift"].rule.pack == "cn-bj"
    assert (
        after.chief_requirement("cosmetic_surgery").min_title == "attending"
    )  # v1 changes carried in v2 file
    hospital = services.derive_permitted_grade(
        province="北京",
        institution_type=InstitutionType.COSMETIC_HOSPITAL,
        hospital_level=None,
        subjects=["cosmetic_surgery"],
        has_anesthesiology=True,
        on=dt.date(2025, 6, 1),
    )
    assert hospital.grade == 4
    assert hospital.rule.pack == "cn-bj"
    # Other provinces are unaffected.
    assert services.resolve("湖南", dt.date(2025, 6, 1)).procedures["surg-brow-lift"].grade == 1
