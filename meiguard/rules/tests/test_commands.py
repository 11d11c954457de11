"""validate_rule_pack, load_rule_pack (path and --builtin) and publish_rule_pack."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from meiguard.audit.models import AuditEntry
from meiguard.rules.choices import VersionStatus
from meiguard.rules.models import RulePackVersion

from .helpers import national_v2

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_validate_reports_ok_for_the_shipped_pack(pack_copy):
    output = run("validate_rule_pack", str(pack_copy("cn-national")))
    assert output.strip() == "OK cn-national v1: 133 rules (94 procedures)"
    assert RulePackVersion.objects.count() == 0


def test_validate_accepts_the_pack_yaml_path(pack_copy):
    assert "OK cn-national v1" in run("validate_rule_pack", str(pack_copy("cn-national") / "pack.yaml"))


def test_validate_fails_for_a_missing_path(tmp_path):
    with pytest.raises(CommandError, match=r"pack\.yaml"):
        call_command("validate_rule_pack", str(tmp_path / "nowhere"))


def test_load_creates_a_draft_and_publish_publishes_it(pack_copy):
    output = run("load_rule_pack", str(pack_copy("cn-national")))
    assert "cn-national v1: loaded" in output
    version = RulePackVersion.objects.get(pack__code="cn-national", version=1)
    assert version.status == VersionStatus.DRAFT
    output = run("publish_rule_pack", "cn-national", "1", "--effective-from", "2018-01-01")
    assert output.strip() == "cn-national v1: published, effective_from=2018-01-01"
    version.refresh_from_db()
    assert version.status == VersionStatus.PUBLISHED
    assert version.effective_from == dt.date(2018, 1, 1)
    assert version.published_at is not None
    published = AuditEntry.objects.get(action="rules.rulepackversion.published")
    assert published.actor_label == "publish_rule_pack"
    assert published.changes["status"] == ["draft", "published"]
    assert published.changes["effective_from"] == ["2017-03-17", "2018-01-01"]


def test_publish_uses_the_date_from_the_pack_by_default(pack_copy):
    run("load_rule_pack", str(pack_copy("cn-national")))
    assert "effective_from=2017-03-17" in run("publish_rule_pack", "cn-national", "1")


def test_publish_of_an_unknown_version_fails(builtin):
    with pytest.raises(CommandError, match="RULE_PACK_VERSION_NOT_FOUND"):
        call_command("publish_rule_pack", "cn-national", "9")


def test_publish_rejects_a_bad_date(builtin):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("publish_rule_pack", "cn-national", "1", "--effective-from", "1.1.2020")


def test_publish_twice_is_a_no_op(builtin):
    entries = AuditEntry.objects.count()
    assert "already published" in run("publish_rule_pack", "cn-national", "1")
    assert AuditEntry.objects.count() == entries


def test_a_draft_without_an_effective_date_cannot_be_published(pack_copy):
    from .helpers import edit

    path = edit(pack_copy("cn-national"), ("  effective_from: 2017-03-17\n", ""))
    run("load_rule_pack", str(path))
    with pytest.raises(CommandError, match="EFFECTIVE_FROM_REQUIRED"):
        call_command("publish_rule_pack", "cn-national", "1")


def test_an_overlay_needs_its_base_loaded_first(pack_copy, tmp_path):
    path = pack_copy("cn-bj")
    with pytest.raises(CommandError, match="extends"):
        call_command("load_rule_pack", str(path))
    assert RulePackVersion.objects.count() == 0


def test_builtin_publish_is_idempotent():
    first = run("load_rule_pack", "--builtin", "--publish")
    assert "cn-national v1: loaded, 已发布" in first or "cn-national v1: loaded, Published" in first
    assert "cn-bj v1: loaded" in first
    assert "inst-template v1: loaded" in first
    second = run("load_rule_pack", "--builtin", "--publish")
    assert "cn-national v1: unchanged" in second
    assert "cn-bj v1: unchanged" in second
    assert "inst-template v1: unchanged" in second
    assert RulePackVersion.objects.filter(status=VersionStatus.PUBLISHED).count() == 3


def test_builtin_without_publish_leaves_drafts():
    run("load_rule_pack", "--builtin")
    assert set(RulePackVersion.objects.values_list("status", flat=True)) == {VersionStatus.DRAFT}


def test_load_needs_a_path_or_builtin():
    with pytest.raises(CommandError, match="either a path or --builtin"):
        call_command("load_rule_pack")
    with pytest.raises(CommandError, match="--publish goes with --builtin"):
        call_command("load_rule_pack", "some/path", "--publish")


def test_loading_a_new_version_keeps_the_old_one(builtin, pack_copy):
    output = run("load_rule_pack", str(national_v2(pack_copy)))
    assert "cn-national v2: loaded" in output
    assert list(
        RulePackVersion.objects.filter(pack__code="cn-national")
        .order_by("version")
        .values_list("version", "status")
    ) == [(1, "published"), (2, "draft")]
