"""The ``technologies`` section (SP-02 新技术准入) and ``requires_privilege`` on anaesthesia rules."""

from __future__ import annotations

import datetime as dt

from django.utils import translation

from meiguard.rules.packfile import parse_pack
from meiguard.rules.services import resolve
from meiguard.rules.testing import load_builtin_packs

from .test_validation import CSV_HEADER, GOOD_ROW, issues_of, write_pack

HEAD = """
pack: {code: cn-x, name: x, jurisdiction: national, version: 1}
procedures: {file: procedure_catalog.csv, cites: [grading-catalog-2009]}
"""


def test_a_technology_rule_names_existing_procedures(tmp_path):
    path = write_pack(
        tmp_path / "p",
        HEAD
        + """
technologies:
  - id: T1
    title: 新技术
    procedures: [surg-a]
    cites: [core-systems-2018 新技术和新项目准入制度]
anesthesia:
  - id: A1
    title: 一级
    grade: 1
    anesthesia_max: local
    requires_anesthetist: false
    cites: [grading-catalog-2009 分级标准]
""",
        CSV_HEADER + GOOD_ROW,
    )
    pack = parse_pack(path)
    (tech,) = [r for r in pack.rules if r.kind == "technology"]
    assert tech.data == {"procedures": ["surg-a"]}
    (anesthesia,) = [r for r in pack.rules if r.kind == "anesthesia"]
    assert anesthesia.data["requires_privilege"] is False  # optional, defaults to false


def test_it_rejects_unknown_procedures_an_empty_list_and_bad_privilege_flags(tmp_path):
    path = write_pack(
        tmp_path / "p",
        HEAD
        + """
technologies:
  - id: T1
    title: 新技术
    procedures: [nope-code]
    cites: [core-systems-2018 新技术和新项目准入制度]
  - id: T2
    title: 空
    procedures: []
    cites: [core-systems-2018 新技术和新项目准入制度]
  - id: T3
    title: 无来源
    procedures: [surg-a]
anesthesia:
  - id: A1
    title: 二级
    grade: 2
    anesthesia_max: epidural-iv
    requires_anesthetist: true
    requires_privilege: maybe
    cites: [grading-catalog-2009 分级标准]
""",
        CSV_HEADER + GOOD_ROW,
    )
    with translation.override("en"):
        issues = issues_of(path)
    assert any("technologies[0].procedures" in i and "nope-code" in i for i in issues), issues
    assert any("technologies[1].procedures" in i and "empty" in i for i in issues), issues
    assert any("technologies[2].cites" in i for i in issues), issues
    assert any("anesthesia[0].requires_privilege" in i and "true or false" in i for i in issues), issues


def test_the_national_pack_lists_the_items_outside_the_2009_catalog(db):
    load_builtin_packs()
    pack = resolve("湖南", dt.date(2026, 3, 3))
    # The catalog rows outside the 2009 catalog cite it as such (their section note says "not in 2009 catalog").
    outside = sorted(
        p.code
        for p in pack.procedures.values()
        if p.catalog_status.startswith("inferred")
        and any(
            c.article == "未列入该目录(目录外新项目)" for c in pack.rule(f"procedure.{p.code}").ref.citations
        )
    )
    rule = pack.technology_rule_for("derm-thread-lift")
    assert rule is not None and rule.rule_id == "SP-02.new-technology"
    assert sorted(rule.data["procedures"]) == outside == ["derm-dermal-ha-hydration", "derm-thread-lift"]
    assert pack.technology_rule_for("derm-botulinum-toxin-injection") is None
    assert [a.requires_privilege for a in pack.anesthesia_requirements()] == [False, False, False, False]
    assert [a.requires_anesthetist for a in pack.anesthesia_requirements()] == [False, True, True, True]
