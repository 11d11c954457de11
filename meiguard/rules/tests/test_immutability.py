"""A published version and its rules cannot be changed or deleted; a change is a new version."""

from __future__ import annotations

import datetime as dt

import pytest

from meiguard.core.access import Actor
from meiguard.core.errors import ActionError
from meiguard.rules import actions
from meiguard.rules.models import ImmutableVersionError, Rule, RulePackVersion

pytestmark = pytest.mark.django_db


def test_it_refuses_to_save_a_published_version(builtin):
    v = RulePackVersion.objects.get(pk=builtin["cn-national"].pk)
    v.description = "edited"
    with pytest.raises(ImmutableVersionError):
        v.save()
    assert RulePackVersion.objects.get(pk=v.pk).description != "edited"


def test_it_refuses_to_delete_a_published_version(builtin):
    v = builtin["cn-national"]
    with pytest.raises(ImmutableVersionError):
        v.delete()
    with pytest.raises(ImmutableVersionError):
        RulePackVersion.objects.filter(pk=v.pk).delete()
    assert RulePackVersion.objects.filter(pk=v.pk).exists()


def test_it_refuses_queryset_updates_of_a_published_version(builtin):
    with pytest.raises(ImmutableVersionError):
        RulePackVersion.objects.filter(pk=builtin["cn-national"].pk).update(description="x")


def test_it_refuses_to_change_add_or_delete_rules_of_a_published_version(builtin):
    version = builtin["cn-national"]
    rule = Rule.objects.get(version=version, rule_id="IN-03.clinic")
    rule.data = {**rule.data, "max_grade": 4}
    with pytest.raises(ImmutableVersionError):
        rule.save()
    with pytest.raises(ImmutableVersionError):
        rule.delete()
    with pytest.raises(ImmutableVersionError):
        Rule.objects.filter(version=version).update(source="x")
    with pytest.raises(ImmutableVersionError):
        Rule.objects.filter(version=version).delete()
    with pytest.raises(ImmutableVersionError):
        Rule(version=version, rule_id="NEW", kind="requirement", source="x").save()
    assert Rule.objects.get(pk=rule.pk).data["max_grade"] == 1


def test_a_draft_can_still_be_edited_and_deleted(pack_copy):
    v = actions.load_pack(Actor.system(), pack_copy("cn-national")).version
    v.description = "edited"
    v.save()
    Rule.objects.filter(version=v, rule_id="IN-03.clinic").update(source="changed")
    assert Rule.objects.get(version=v, rule_id="IN-03.clinic").source == "changed"
    v.delete()
    assert not Rule.objects.filter(version_id=v.pk).exists()


def test_reloading_changed_content_under_a_published_number_is_refused(builtin, pack_copy):
    path = pack_copy("institution-template")
    text = (path / "pack.yaml").read_text(encoding="utf-8").replace("max_value: 200", "max_value: 300")
    (path / "pack.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ActionError) as info:
        actions.load_pack(Actor.system(), path)
    assert info.value.code == "RULE_PACK_VERSION_PUBLISHED"
    rule = Rule.objects.get(version=builtin["inst-template"], rule_id="INST.botulinum-units-per-session")
    assert rule.data["max_value"] == 200


def test_republishing_with_another_date_is_refused(builtin):
    with pytest.raises(ActionError) as info:
        actions.publish_version(Actor.system(), "cn-national", 1, effective_from=dt.date(2030, 1, 1))
    assert info.value.code == "RULE_PACK_VERSION_PUBLISHED"
    assert RulePackVersion.objects.get(pk=builtin["cn-national"].pk).effective_from == dt.date(2017, 3, 17)
