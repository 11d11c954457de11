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
    assert rule.source.startswith("PG-01 [S07] MOH2009-220 §1 L1")
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
    assert v.effective_from.isoformat() == "2017-05-01"
    entry = AuditEntry.objects.get(action="rules.rulepackversion.loaded")
    assert entry.object_id == str(v.pk)
    assert entry.chain == "platform"
    assert entry.actor_label == "loader"
    assert entry.changes["pack"] == [None, "cn-national"]


def test_every_rule_carries_a_source(builtin):
    assert not Rule.objects.filter(source="").exists()
    assert Rule.objects.count() > 94


def test_seed_004_limits_are_institution_level_and_adjustable(builtin):
    version = builtin["cn-national"]
    for rule_id, value, unit in [
        ("INST.botulinum-units-per-session", 200, "U"),
        ("INST.filler-minutes-per-site", 40, "min"),
    ]:
        rule = Rule.objects.get(version=version, rule_id=rule_id)
        assert rule.level == RuleLevel.INSTITUTION
        assert rule.adjustable is True
        assert rule.source == "seed 004 (institution operating guide)"
        assert rule.data["max_value"] == value
        assert rule.data["unit"] == unit
    training = Rule.objects.get(version=version, rule_id="INST.nurse-training-hours")
    assert training.level == RuleLevel.INSTITUTION
    assert training.data["value"] == 160
    cme = Rule.objects.get(version=version, rule_id="PR-08.cme-credits")
    assert (cme.level, cme.source, cme.data["value"]) == (RuleLevel.NATIONAL, "PR-08 [S06]", 25)


def test_unconfirmed_rules_are_marked(builtin):
    version = builtin["cn-national"]
    unconfirmed = set(
        Rule.objects.filter(version=version, confirmed=False)
        .exclude(kind=RuleKind.PROCEDURE)
        .values_list("rule_id", flat=True)
    )
    assert {"IN-03.cosmetic-hospital", "PR-06.cosmetic_surgery", "PR-03.supervisor-presence"} <= unconfirmed
    assert "IN-03.clinic" not in unconfirmed


def test_builtin_loading_is_idempotent(db):
    first = load_builtin_packs()
    entries = AuditEntry.objects.count()
    second = load_builtin_packs()
    assert {k: v.pk for k, v in first.items()} == {k: v.pk for k, v in second.items()}
    assert RulePack.objects.count() == 2
    assert RulePackVersion.objects.count() == 2
    assert AuditEntry.objects.count() == entries == 4  # loaded + published, twice
    assert all(v.status == VersionStatus.PUBLISHED for v in second.values())


def test_the_beijing_overlay_stores_change_entries(builtin):
    bj = builtin["cn-bj"]
    assert bj.pack.extends.code == "cn-national"
    assert bj.pack.province == "北京"
    ops = Counter(Rule.objects.filter(version=bj).values_list("op", flat=True))
    assert ops == {RuleOp.CHANGE: 5, RuleOp.ADD: 1}
