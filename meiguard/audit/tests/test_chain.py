import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from meiguard.audit import log as audit
from meiguard.audit.models import AppendOnlyError, AuditEntry, ChainHead
from meiguard.core.access import Actor
from meiguard.core.context import RequestContext, reset, set_current


def _change(world, name: str, n: int = 1):
    org = world.org_jia
    for _ in range(n):
        with transaction.atomic():
            before = audit.snapshot(org)
            org.name = name
            org.save()
            audit.record(world.actor("wang"), "core.organization.updated", org, before=before, reason="更名")


def test_it_records_actor_fields_and_request_context(world):
    token = set_current(RequestContext(request_id="req-1", ip="10.1.2.3"))
    try:
        _change(world, "甲诊所(新)")
    finally:
        reset(token)
    entry = AuditEntry.objects.get()
    assert entry.actor_label == "wang"
    assert entry.actor_id == world.users["wang"].pk
    assert entry.organization_id == world.org_jia.pk
    assert entry.chain == f"org-{world.org_jia.pk}"
    assert entry.changes == {"name": ["甲诊所", "甲诊所(新)"]}
    assert (entry.request_id, entry.ip, entry.reason) == ("req-1", "10.1.2.3", "更名")


def test_entries_chain_per_organization(world):
    _change(world, "A", 3)
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[1].prev_hash == entries[0].hash
    assert audit.verify() == []
    assert ChainHead.objects.get(chain=entries[0].chain).last_hash == entries[-1].hash


def test_it_finds_a_tampered_row(world):
    _change(world, "B", 4)
    target = AuditEntry.objects.get(seq=3)
    with connection.cursor() as cursor:  # an attacker with database access
        cursor.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET reason = %s WHERE id = %s", ["篡改", target.pk]
        )
    breaks = audit.verify()
    assert len(breaks) == 1
    assert (breaks[0].seq, breaks[0].entry_id) == (3, target.pk)
    assert "hash" in breaks[0].problem


def test_it_finds_a_deleted_row(world):
    _change(world, "C", 3)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEntry._meta.db_table} WHERE seq = 2")
    breaks = audit.verify()
    assert breaks[0].seq == 2
    assert "missing" in breaks[0].problem


def test_audit_verify_command_names_the_first_broken_link(world, capsys):
    _change(world, "D", 2)
    call_command("audit_verify")
    assert "OK" in capsys.readouterr().out
    first = AuditEntry.objects.get(seq=1)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET action = %s WHERE id = %s",
            ["core.organization.created", first.pk],
        )
    with pytest.raises(CommandError):
        call_command("audit_verify")
    assert f"seq=1 entry_id={first.pk}" in capsys.readouterr().err


def test_entries_cannot_be_changed_or_deleted_through_the_app(world):
    _change(world, "E")
    entry = AuditEntry.objects.get()
    entry.reason = "改写"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().update(reason="x")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()


def test_record_refuses_to_run_outside_a_transaction(transactional_db):
    from meiguard.core.models import Organization

    org = Organization.objects.create(name="丙", kind="institution")
    with pytest.raises(RuntimeError):
        audit.record(Actor.system(), "core.organization.updated", org)
    assert not AuditEntry.objects.exists()


def test_record_refuses_unknown_action_codes(world):
    with transaction.atomic(), pytest.raises(ValueError):
        audit.record(Actor.system(), "core.organization.renamed", world.org_jia)


def test_entry_rolls_back_with_the_change(world):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        _change(world, "F")
        1 / 0  # noqa: B018
    assert not AuditEntry.objects.exists()


def test_masked_fields_never_show_their_value(world):
    org = world.org_jia
    org.audit_masked_fields = ("name",)
    with transaction.atomic():
        before = audit.snapshot(org)
        org.name = "秘密名称"
        org.save()
        audit.record(Actor.system(), "core.organization.updated", org, before=before)
    entry = AuditEntry.objects.get()
    old, new = entry.changes["name"]
    assert "秘密" not in str(entry.changes)
    assert old.startswith("***") and new.startswith("***") and old != new


def test_admin_offers_no_edit_path(world):
    from django.contrib.admin.sites import site

    admin = site._registry[AuditEntry]
    user = world.users["wang"]
    user.is_staff = user.is_superuser = True
    user.save()

    class Req:
        pass

    request = Req()
    request.user = user
    assert not admin.has_add_permission(request)
    assert not admin.has_change_permission(request)
    assert not admin.has_delete_permission(request)


def test_auditor_reads_only_overseen_chains(world):
    _change(world, "G")
    assert AuditEntry.objects.visible_to(world.actor("qian")).count() == 1
    assert AuditEntry.objects.visible_to(world.actor("sun")).count() == 0
