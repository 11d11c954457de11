"""Every validation problem is listed with file, line and field, and nothing is written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from meiguard.audit.models import AuditEntry
from meiguard.rules.models import Rule, RulePack, RulePackVersion
from meiguard.rules.packfile import PackInvalid, parse_pack

CSV_HEADER = "code,subject,category,name_zh,name_en,level,invasive,anesthesia_max,source\n"
GOOD_ROW = "surg-a,美容外科,鼻部,隆鼻术,Rhinoplasty,1,surgical,local,MOH2009-220 §1 L1|read\n"


def write_pack(directory: Path, yaml_text: str, csv_text: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pack.yaml").write_text(textwrap.dedent(yaml_text).lstrip("\n"), encoding="utf-8")
    if csv_text is not None:
        (directory / "procedure_catalog.csv").write_text(csv_text, encoding="utf-8")
    return directory


def issues_of(path: Path) -> list[str]:
    with pytest.raises(PackInvalid) as info:
        parse_pack(path)
    return [str(i) for i in info.value.issues]


BAD_YAML = """
pack:
  code: cn-test
  name: 测试
  jurisdiction: national
  version: 1
  effective_from: 2020-13-01
  colour: red
procedures:
  {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
limits:
  - id: L1
    title: 限值
    metric: units_per_session
    max_value: -5
    unit: U
    procedures: [nope-code]
    cites: [measures 第二条]
  - id: L1
    title: 重复
    metric: units_per_session
    max_value: 10
    unit: U
institution_grades:
  - id: G1
    title: x
    institution_type: spa
    max_grade: 7
    cites: [grading-catalog-2009 机构条件]
chief_physicians:
  - id: C1
    title: x
    subject: cosmetic_surgery
    min_years: six
    practice_categories: [clinical]
    cites: ["  "]
"""

BAD_CSV = (
    CSV_HEADER
    + GOOD_ROW
    + "surg-b,美容外科,鼻部,鼻翼缩小,Alar,7,surgical,local,x|read\n"
    + "derm-c,美容内科,注射,注射,Inj,,injection,,x|read\n"
    + "surg-a,美容外科,鼻部,重复,Dup,1,surgical,local,x|read\n"
    + "derm-d,美容皮肤科,光电,激光,Laser,,laser,,\n"
    + "derm-e,美容皮肤科,光电,激光,Laser,2,energy-device,,x|read\n"
)


@pytest.fixture
def bad_pack(tmp_path: Path) -> Path:
    return write_pack(tmp_path / "bad", BAD_YAML, BAD_CSV)


def test_it_lists_every_yaml_error_with_line_and_field(bad_pack):
    with translation.override("zh-hans"):
        issues = issues_of(bad_pack)
    assert "pack.yaml:6 pack.effective_from: 日期格式应为 YYYY-MM-DD" in issues
    assert "pack.yaml:7 pack.colour: 未知的键" in issues
    assert "pack.yaml:14 limits[0].max_value: 必须是正数" in issues
    assert "pack.yaml:16 limits[0].procedures: 引用了不存在的项目 nope-code" in issues
    assert "pack.yaml:18 limits[1].cites: 缺少必填字段" in issues
    assert "pack.yaml:18 limits[1].id: 规则编号 L1 重复(首次出现在 pack.yaml:11)" in issues
    assert any(
        i.startswith("pack.yaml:26 institution_grades[0].institution_type: 未知取值 spa") for i in issues
    )
    assert "pack.yaml:27 institution_grades[0].max_grade: 必须是 0-4 之间的整数" in issues
    assert "pack.yaml:33 chief_physicians[0].min_years: 必须是 0-50 之间的整数" in issues
    assert "pack.yaml:35 chief_physicians[0].cites: 第 1 项:必须是非空文本" in issues


def test_it_lists_every_csv_error_with_line_and_column(bad_pack):
    with translation.override("zh-hans"):
        issues = issues_of(bad_pack)
    assert "procedure_catalog.csv:3 level: 必须为 1-4 或留空" in issues
    assert any(i.startswith("procedure_catalog.csv:4 subject: 未知取值 美容内科") for i in issues)
    assert "procedure_catalog.csv:5 code: 项目编码重复(首次出现在第 2 行)" in issues
    assert any(i.startswith("procedure_catalog.csv:6 invasive: 未知取值 laser") for i in issues)
    assert "procedure_catalog.csv:6 source: 必须是非空文本" in issues
    assert "procedure_catalog.csv:7 level: 只有美容外科项目分级(PG-03),其他科目须留空" in issues


def test_it_reports_messages_in_english_when_asked(bad_pack):
    with translation.override("en"):
        issues = issues_of(bad_pack)
    assert "procedure_catalog.csv:3 level: must be 1-4 or empty" in issues
    assert "pack.yaml:14 limits[0].max_value: must be a positive number" in issues
    assert "pack.yaml:7 pack.colour: unknown key" in issues


def test_it_orders_pack_yaml_issues_before_csv_issues(bad_pack):
    issues = issues_of(bad_pack)
    files = [i.split(":")[0] for i in issues]
    assert files == sorted(files, key=lambda f: f != "pack.yaml")
    yaml_lines = [int(i.split(":")[1].split()[0]) for i in issues if i.startswith("pack.yaml")]
    assert yaml_lines == sorted(yaml_lines)


def test_the_command_lists_all_errors_and_writes_nothing(bad_pack, db):
    with pytest.raises(CommandError) as info:
        call_command("load_rule_pack", str(bad_pack))
    message = str(info.value)
    assert "procedure_catalog.csv:3 level:" in message
    assert "pack.yaml:14 limits[0].max_value:" in message
    assert "nothing was written" in message
    assert RulePack.objects.count() == 0
    assert RulePackVersion.objects.count() == 0
    assert Rule.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_validate_command_fails_on_a_bad_pack(bad_pack):
    with pytest.raises(CommandError, match=r"pack\.yaml:27 institution_grades\[0\]\.max_grade"):
        call_command("validate_rule_pack", str(bad_pack))


def test_it_rejects_grade_outside_range(tmp_path):
    csv_text = CSV_HEADER + GOOD_ROW.replace(",1,surgical", ",5,surgical")
    path = write_pack(
        tmp_path / "p",
        """
        pack: {code: cn-x, name: x, jurisdiction: national, version: 1}
        procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
    """,
        csv_text,
    )
    with translation.override("en"):
        assert issues_of(path) == ["procedure_catalog.csv:2 level: must be 1-4 or empty"]


def test_it_reports_yaml_syntax_errors_with_line(tmp_path):
    path = write_pack(tmp_path / "p", "pack:\n  code: [unclosed\n  name: x\n")
    issues = issues_of(path)
    assert len(issues) == 1
    assert issues[0].startswith("pack.yaml:3 yaml:")


def test_it_reports_duplicate_yaml_keys(tmp_path):
    path = write_pack(
        tmp_path / "p",
        """
        pack:
          code: cn-x
          code: cn-y
          name: x
          jurisdiction: national
          version: 1
        procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
    """,
        CSV_HEADER + GOOD_ROW,
    )
    with translation.override("zh-hans"):
        assert issues_of(path) == ["pack.yaml:3 pack.code: 键重复"]


def test_it_requires_cites_on_every_rule(tmp_path):
    path = write_pack(
        tmp_path / "p",
        """
        pack: {code: cn-x, name: x, jurisdiction: national, version: 1}
        procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
        follow_ups:
          - id: FU.1
            title: 随访
            invasiveness: [surgical]
            schedule: [3d, 1m]
    """,
        CSV_HEADER + GOOD_ROW,
    )
    with translation.override("zh-hans"):
        assert issues_of(path) == ["pack.yaml:4 follow_ups[0].cites: 缺少必填字段"]


def test_it_checks_types_of_lists_booleans_and_offsets(tmp_path):
    path = write_pack(
        tmp_path / "p",
        """
        pack: {code: cn-x, name: x, jurisdiction: national, version: 1}
        procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
        follow_ups:
          - id: FU.1
            title: 随访
            invasiveness: surgical
            schedule: [3d, soon]
            adjustable: "yes"
            cites: [operating-plan-2026 一(三)1]
            level: institution
    """,
        CSV_HEADER + GOOD_ROW,
    )
    with translation.override("en"):
        issues = issues_of(path)
    assert issues == [
        "pack.yaml:6 follow_ups[0].invasiveness: must be a list",
        "pack.yaml:7 follow_ups[0].schedule: item 2: a follow-up offset is a number plus h/d/w/m, e.g. 3d, 1m",
        "pack.yaml:8 follow_ups[0].adjustable: must be true or false",
    ]


def test_it_rejects_unknown_subjects_institution_types_and_sections(tmp_path):
    path = write_pack(
        tmp_path / "p",
        """
        pack: {code: cn-x, name: x, jurisdiction: national, version: 1}
        procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
        practice_scopes:
          - id: S.1
            title: x
            subject: cosmetic_magic
            accepted_scopes: [外科, 魔法科]
            cites: [chief-filing-2017]
        gizmos: []
    """,
        CSV_HEADER + GOOD_ROW,
    )
    with translation.override("en"):
        issues = issues_of(path)
    assert issues[0].startswith("pack.yaml:6 practice_scopes[0].subject: unknown value cosmetic_magic")
    assert issues[1].startswith(
        "pack.yaml:7 practice_scopes[0].accepted_scopes: item 2: unknown value 魔法科"
    )
    assert issues[2] == "pack.yaml:9 gizmos: unknown key"


def test_it_rejects_unknown_and_missing_csv_columns(tmp_path):
    csv_text = (
        "code,subject,category,name_zh,level,invasive,anesthesia_max,colour\n"
        + "x,美容外科,a,b,1,surgical,local,red\n"
    )
    path = write_pack(
        tmp_path / "p",
        """
        pack: {code: cn-x, name: x, jurisdiction: national, version: 1}
        procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
    """,
        csv_text,
    )
    with translation.override("en"):
        issues = issues_of(path)
    assert "procedure_catalog.csv:1 colour: unknown column" in issues
    assert "procedure_catalog.csv:1 source: missing column" in issues


def test_it_rejects_a_csv_outside_the_pack_directory(tmp_path):
    (tmp_path / "outside.csv").write_text(CSV_HEADER + GOOD_ROW, encoding="utf-8")
    path = write_pack(
        tmp_path / "p",
        """
        pack: {code: cn-x, name: x, jurisdiction: national, version: 1}
        procedures: {file: ../outside.csv, cites: [grading-catalog-2009]}
    """,
    )
    issues = issues_of(path)
    assert len(issues) == 1
    assert issues[0].startswith("pack.yaml:2 procedures.file:")


def test_it_rejects_overlay_sections_in_a_national_pack(tmp_path):
    path = write_pack(
        tmp_path / "p",
        """
        pack: {code: cn-x, name: x, jurisdiction: national, version: 1}
        procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
        remove:
          - {id: procedure.surg-a, cites: [grading-catalog-2009]}
    """,
        CSV_HEADER + GOOD_ROW,
    )
    with translation.override("en"):
        issues = issues_of(path)
    assert issues == [
        "pack.yaml:3 remove: only a provincial overlay (jurisdiction: provincial) may use this section"
    ]


def test_it_rejects_an_overlay_referencing_a_missing_rule(db, tmp_path, pack_copy):
    pack_copy("cn-national")
    path = write_pack(
        tmp_path / "cn-zz",
        """
        pack:
          code: cn-zz
          name: 测试省
          jurisdiction: provincial
          province: 湖南
          extends: cn-national
          version: 1
        change:
          - id: PR-99.nothing
            set: {min_years: 3}
            cites: [measures 第十一条]
          - id: procedure.surg-brow-lift
            set: {grade: 9, colour: red}
            cites: [grading-catalog-2009]
        remove:
          - id: procedure.no-such-item
            cites: [grading-catalog-2009]
    """,
    )
    with translation.override("en"):
        issues = issues_of(path)
    assert issues == [
        "pack.yaml:9 change[0].id: the base pack has no rule PR-99.nothing",
        "pack.yaml:13 change[1].set.grade: must be 1-4 or empty",
        "pack.yaml:13 change[1].set.colour: rule kind procedure has no such field",
        "pack.yaml:16 remove[0].id: the base pack has no rule procedure.no-such-item",
    ]


def test_it_requires_province_and_base_for_an_overlay(db, tmp_path):
    path = write_pack(
        tmp_path / "p",
        """
        pack:
          code: cn-zz
          name: 测试省
          jurisdiction: provincial
          version: 1
    """,
    )
    with translation.override("en"):
        issues = issues_of(path)
    assert issues == [
        "pack.yaml:2 pack.province: required for a provincial overlay",
        "pack.yaml:2 pack.extends: required for a provincial overlay",
    ]


def test_it_rejects_an_overlay_adding_an_existing_rule_id(db, tmp_path, pack_copy):
    pack_copy("cn-national")
    path = write_pack(
        tmp_path / "cn-zz",
        """
        pack: {code: cn-zz, name: x, jurisdiction: provincial, province: 湖南, extends: cn-national, version: 1}
        anesthesia:
          - id: PG-01.grade-1
            title: x
            grade: 1
            anesthesia_max: local
            requires_anesthetist: true
            cites: [grading-catalog-2009 分级标准]
    """,
    )
    with translation.override("en"):
        issues = issues_of(path)
    assert issues == [
        "pack.yaml:3 anesthesia[0].id: the base pack already has rule PG-01.grade-1; change it in the change section"
    ]


def test_the_shipped_packs_are_valid(db, pack_copy):
    national = parse_pack(pack_copy("cn-national"))
    beijing = parse_pack(pack_copy("cn-bj"))
    assert national.code == "cn-national"
    assert beijing.code == "cn-bj"
    template = parse_pack(pack_copy("institution-template"))
    assert national.code == "cn-national"
    assert template.code == "inst-template"
    assert template.meta["jurisdiction"] == "institution"
    rules = national.rules + beijing.rules + template.rules
    assert all(r.source and r.citations for r in rules)
    assert all(r.level == "institution" for r in template.rules)


NATIONAL_WITH = """
    pack: {code: cn-x, name: x, jurisdiction: national, version: 1}
    procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
    requirements:
      - id: R.1
        title: x
        metric: test_metric
        value: 1
        %s
"""


def test_a_cite_must_name_a_register_entry(tmp_path):
    path = write_pack(tmp_path / "p", NATIONAL_WITH % "cites: [test, measures 第二条]", CSV_HEADER + GOOD_ROW)
    with translation.override("zh-hans"):
        issues = issues_of(path)
    assert issues == ["pack.yaml:8 requirements[0].cites: 登记册中没有依据文件 test(见 packs/sources.yaml)"]


def test_the_first_cite_must_fit_the_rule_level(tmp_path):
    # An institution's operating plan cannot be the basis of a national rule ...
    path = write_pack(
        tmp_path / "p", NATIONAL_WITH % "cites: [operating-plan-2026, measures 第二条]", CSV_HEADER + GOOD_ROW
    )
    with translation.override("zh-hans"):
        (issue,) = issues_of(path)
    assert issue.startswith("pack.yaml:8 requirements[0].cites: 依据《2026年医疗美容服务年度工作计划")
    assert "机构规范" in issue and "与规则层级" in issue
    # ... but it may be the basis of an institution rule, and national texts may follow it.
    path = write_pack(
        tmp_path / "q",
        NATIONAL_WITH % "cites: [operating-plan-2026, measures 第二条]\n        level: institution",
        CSV_HEADER + GOOD_ROW,
    )
    parsed = parse_pack(path)
    rule = next(r for r in parsed.rules if r.rule_id == "R.1")
    assert [c["doc"] for c in rule.citations] == ["operating-plan-2026", "measures"]
    assert rule.source.startswith("《2026年医疗美容服务年度工作计划")
    assert "《医疗美容服务管理办法》第二条" in rule.source


def test_a_cite_has_the_register_format(tmp_path):
    path = write_pack(tmp_path / "p", NATIONAL_WITH % 'cites: ["Measures Art. 2"]', CSV_HEADER + GOOD_ROW)
    with translation.override("zh-hans"):
        (issue,) = issues_of(path)
    assert issue.startswith("pack.yaml:8 requirements[0].cites: ")
    assert "measures 第十一条" in issue


def test_pack_cites_and_effective_basis_must_name_register_entries(tmp_path):
    path = write_pack(
        tmp_path / "p",
        """
        pack: {code: cn-x, name: x, jurisdiction: national, version: 1, cites: [nope], effective_basis: gone}
        procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
    """,
        CSV_HEADER + GOOD_ROW,
    )
    with translation.override("zh-hans"):
        issues = issues_of(path)
    assert "pack.yaml:1 pack.cites: 登记册中没有依据文件 nope(见 packs/sources.yaml)" in issues
    assert "pack.yaml:1 pack.effective_basis: 登记册中没有依据文件 gone(见 packs/sources.yaml)" in issues
