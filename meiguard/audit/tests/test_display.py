"""Audit history reads as sentences: field labels, names instead of ids, choice labels, local times."""

from django.db import transaction
from django.utils import translation

from meiguard.audit import display
from meiguard.audit import log as audit
from meiguard.core.models import Membership


def _entry(world):
    m = Membership.objects.get(user=world.users["li"])
    with transaction.atomic():
        return audit.record(world.actor("wang"), "core.membership.created", m, before={})


def test_ids_become_names_and_codes_become_labels(world):
    world.users["li"].display_name = "李明"
    world.users["li"].save()
    e = display.describe([_entry(world)])[0]
    changes = {c.field: c for c in e.readable_changes}
    assert changes["user"].new == "李明" and changes["user"].old == "—"
    assert changes["user"].label != "user"
    assert changes["role"].new == "医生"
    assert e.action_label == "成员角色授予"
    assert e.actor_name == "wang"


def test_it_renders_in_the_readers_language(world):
    with translation.override("en"):
        e = display.describe([_entry(world)])[0]
        changes = {c.field: c for c in e.readable_changes}
        assert changes["role"].new == "Doctor"
        assert e.action_label == "Role granted"


def test_iso_timestamps_and_lists_become_local_dates_and_joined_labels():
    r = display.Renderer()
    assert r.value(None, "decided_at", "2026-03-01T02:05:09.123456+00:00") == "2026-03-01 10:05"
    assert r.value(None, "tags", ["a", "b"]) == "a、b"
    assert r.value(None, "x", None) == "—"
    assert r.value(None, "flag", True) == "是"
