"""diff_versions: added, removed and changed rules with before/after values."""

from __future__ import annotations

import pytest

from meiguard.rules import services

from .helpers import load_and_publish, national_v2, template_v2

pytestmark = pytest.mark.django_db


def test_it_lists_added_removed_and_changed_rules(builtin, pack_copy):
    v1 = builtin["cn-national"]
    v2 = load_and_publish(national_v2(pack_copy))
    diff = services.diff_versions(v1, v2)
    assert (diff.a, diff.b) == ("cn-national v1", "cn-national v2")
    assert [s.rule_id for s in diff.added] == ["TEST.new-requirement"]
    assert [s.rule_id for s in diff.removed] == ["procedure.surg-eyebrow-reshaping"]
    changed = {c.rule_id: {f.field: (f.before, f.after) for f in c.changes} for c in diff.changed}
    assert changed == {
        "procedure.surg-brow-lift": {"data.grade": (1, 2), "data.anesthesia_max": ("local", "epidural-iv")},
        "PR-08.cme-credits": {"data.value": (25, 30)},
    }
    assert not diff.is_empty


def test_it_diffs_institution_template_versions(builtin, pack_copy):
    v1 = builtin["inst-template"]
    v2 = load_and_publish(template_v2(pack_copy))
    diff = services.diff_versions(v1, v2)
    assert (diff.a, diff.b) == ("inst-template v1", "inst-template v2")
    assert (diff.added, diff.removed) == ((), ())
    changed = {c.rule_id: {f.field: (f.before, f.after) for f in c.changes} for c in diff.changed}
    assert changed == {"INST.botulinum-units-per-session": {"data.max_value": (200, 150)}}


def test_it_reports_nothing_between_identical_versions(builtin):
    v1 = builtin["cn-national"]
    diff = services.diff_versions(v1, v1)
    assert diff.is_empty
    assert (diff.added, diff.removed, diff.changed) == ((), (), ())


def test_the_reverse_diff_swaps_added_and_removed(builtin, pack_copy):
    v1 = builtin["cn-national"]
    v2 = load_and_publish(national_v2(pack_copy))
    diff = services.diff_versions(v2, v1)
    assert [s.rule_id for s in diff.added] == ["procedure.surg-eyebrow-reshaping"]
    assert [s.rule_id for s in diff.removed] == ["TEST.new-requirement"]
    brow = next(c for c in diff.changed if c.rule_id == "procedure.surg-brow-lift")
    assert brow.before.fields["data.grade"] == 2
    assert brow.after.fields["data.grade"] == 1
