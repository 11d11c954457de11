"""Loading the shipped national pack: the full procedure catalog and every rule with its source."""

from __future__ import annotations

from collections import Counter

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.core.access import Actor
from meiguard.rules import actions
from meiguard.rules.choices import RuleKind, RuleLevel, RuleOp, VersionStatus
from meiguard.rules.models import Rule, RulePack, RulePackVersion
from meiguard.rules.testing import load_builtin_packs

pytestmark = pytest.mark.django_db


def test_it_loads_every_procedure_row_of_the_national_catalog(pack_copy):
    result = actions.load_pack(Actor.system(), pack_copy("cn-national"))
    rules = Rule.objects.filter(version=result.version, kind=RuleKind.PROCEDURE)
    # procedure_catalog.csv has 95 lines: a header and 94 procedures.
    assert rules.count() == 94
    by_subject = Counter(r.data["subject"] for r in rules)
    assert by_subject == {
        "cosmetic_surgery": 61,
        "cosmetic_dermatology": 14,
        "cosmetic_tcm": 10,
        "cosmetic_dentistry": 9,
    }
    by_grade = Counter(r.data["grade"] for r in rules if r.data["subject"] == "cosmetic_surgery")
    assert by_grade == {1: 36, 2: 14, 3: 4, 4: 6, None: 1}


def test_it_stores_procedure_fields_and_source(pack_copy):
    version = actions.load_pack(Actor.system(), pack_copy("cn-national")).version
    rule = Rule.objects.get(version=version, rule_id="procedure.surg-botulinum-toxin-a-injection")
    assert rule.data["code"] == "surg-botulinum-toxin-a-injection"
    assert rule.data["subject"] == "cosmetic_surgery"
    assert rule.data["grade"] == 1
    assert rule.data["invasiveness"] == "injection"
    assert rule.data["anesthesia_max"] == "local"
    assert rule.data["name_zh"] == "A型肉毒毒素美容注射术"
    # The catalog row's section is cited as an article of the 2009 catalog, readable by anyone.
    assert rule.source.startswith("《医疗美容项目分级管理目录》一级项目")
    assert "卫办医政发〔2009〕220号" in rule.source
    assert [c["doc"] for c in rule.citations] == ["grading-catalog-2009"]
    assert rule.citations[0]["article"].startswith("一级项目")
    assert rule.citations[0]["kind"] == "normative_document"
    assert "MOH2009-220" not in rule.source and "[S07]" not in rule.source
    assert rule.confirmed is True
    inferred = Rule.objects.get(version=version, rule_id="procedure.surg-liposuction-ge5000")
    assert inferred.data["grade"] is None
    assert inferred.confirmed is False


def test_it_creates_a_draft_and_an_audit_entry(pack_copy):
    result = actions.load_pack(Actor.system("loader"), pack_copy("cn-national"))
    assert result.created is True
    v = result.version
    assert v.status == VersionStatus.DRAFT
    assert v.pack.code == "cn-national"
    assert v.effective_from.isoformat() == "2017-03-17"
    assert v.source_doc.startswith("《医疗美容服务管理办法》")
    assert "国卫医发〔2017〕16号" in v.effective_basis
    entry = AuditEntry.objects.get(action="rules.rulepackversion.loaded")
    assert entry.object_id == str(v.pk)
    assert entry.chain == "platform"
    assert entry.actor_label == "loader"
    assert entry.changes["pack"] == [None, "cn-national"]


def test_every_rule_carries_a_source(builtin):
    assert not Rule.objects.filter(source="").exists()
    assert not Rule.objects.filter(citations=[]).exists()
    assert Rule.objects.count() > 94


def test_institution_limits_live_in_the_template_at_institution_level_and_adjustable(builtin):
    version = builtin["inst-template"]
    assert version.pack.jurisdiction == "institution"
    assert version.pack.name == "机构规范模板"
    for rule_id, value, unit in [
        ("INST.botulinum-units-per-session", 200, "U"),
        ("INST.filler-minutes-per-site", 40, "min"),
    ]:
        rule = Rule.objects.get(version=version, rule_id=rule_id)
        assert rule.level == RuleLevel.INSTITUTION
        assert rule.adjustable is True
        assert rule.source.startswith("《2026年医疗美容服务年度工作计划")
        assert [c["kind"] for c in rule.citations] == ["institution_policy"]
        assert rule.data["max_value"] == value
        assert rule.data["unit"] == unit
        # ... and no longer in the national pack.
        assert not Rule.objects.filter(version=builtin["cn-national"], rule_id=rule_id).exists()
    training = Rule.objects.get(version=version, rule_id="INST.nurse-training-hours")
    assert training.level == RuleLevel.INSTITUTION
    assert training.data["value"] == 160
    cme = Rule.objects.get(version=builtin["cn-national"], rule_id="PR-08.cme-credits")
    assert (cme.level, cme.data["value"]) == (RuleLevel.NATIONAL, 25)
    assert [c["doc"] for c in cme.citations] == ["cme-rules-2006"]
    assert cme.citations[0]["kind"] in (
        "law",
        "administrative_regulation",
        "departmental_rule",
        "normative_document",
    )
    # Supervisor presence was PR-03.supervisor-presence (unconfirmed): the regulation does not say it, so it is
    # now an institution setting of the template.
    presence = Rule.objects.get(version=version, rule_id="INST.supervisor-presence")
    assert (presence.level, presence.adjustable) == (RuleLevel.INSTITUTION, True)
    national_presence = Rule.objects.filter(
        version=builtin["cn-national"], rule_id__in=["PR-03.supervisor-presence", "INST.supervisor-presence"]
    )
    assert not national_presence.exists()


def test_unconfirmed_rules_are_marked(builtin):
    version = builtin["cn-national"]
    unconfirmed = set(
        Rule.objects.filter(version=version, confirmed=False)
        .exclude(kind=RuleKind.PROCEDURE)
        .values_list("rule_id", flat=True)
    )
    assert {"IN-03.cosmetic-hospital", "PR-06.cosmetic_surgery"} <= unconfirmed
    assert "IN-03.clinic" not in unconfirmed


def test_builtin_loading_is_idempotent(db):
    first = load_builtin_packs()
    entries = AuditEntry.objects.count()
    second = load_builtin_packs()
    assert {k: v.pk for k, v in first.items()} == {k: v.pk for k, v in second.items()}
    assert set(second) == {"cn-national", "inst-template", "cn-bj"}
    assert RulePack.objects.count() == 3
    assert RulePackVersion.objects.count() == 3
    assert AuditEntry.objects.count() == entries == 6  # loaded + published, three times
    assert all(v.status == VersionStatus.PUBLISHED for v in second.values())


def test_the_beijing_overlay_stores_change_entries(builtin):
    bj = builtin["cn-bj"]
    assert bj.pack.extends.code == "cn-national"
    assert bj.pack.province == "北京"
    ops = Counter(Rule.objects.filter(version=bj).values_list("op", flat=True))
    assert ops == {RuleOp.CHANGE: 5, RuleOp.ADD: 1}
