"""The keyed chain and its checkpoints: seven ways to tamper, each caught by ``audit_verify --checkpoint``."""

import hashlib
import json

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from meiguard.audit import checkpoints, keys
from meiguard.audit import log as audit
from meiguard.audit.models import GENESIS_HASH, KEYED_HASH, LEGACY_HASH, AuditEntry, ChainHead
from meiguard.core.models import Organization

KEY = "test-audit-key-0123456789-abcdefghijklmnopqrstuvwxyz"
ENTRIES = AuditEntry._meta.db_table
HEADS = ChainHead._meta.db_table


@pytest.fixture
def keyed(settings):
    settings.AUDIT_KEY = KEY
    settings.AUDIT_KEY_ID = "k1"
    settings.AUDIT_OLD_KEYS = ""
    return settings


def _change(world, name: str, n: int = 1, org=None):
    org = org or world.org_jia
    for i in range(n):
        with transaction.atomic():
            before = audit.snapshot(org)
            org.name = f"{name}{i}"
            org.save()
            audit.record(world.actor("wang"), "core.organization.updated", org, before=before)


def _checkpoint(tmp_path):
    path = tmp_path / "checkpoints.jsonl"
    call_command("audit_checkpoint", "--out", str(path))
    return path


def _verify(path, capsys) -> str:
    """Run audit_verify --checkpoint; return stderr, failing the test if it passed."""
    capsys.readouterr()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--checkpoint", str(path))
    return capsys.readouterr().err


def _sql(sql: str, params=()):
    with connection.cursor() as cursor:  # an attacker with write access to the database
        cursor.execute(sql, list(params))


def _unkeyed_hash(prev: str, entry: AuditEntry) -> str:
    """What an attacker without the key can compute: the old unkeyed SHA-256 scheme."""
    return hashlib.sha256((prev + audit._canonical(entry)).encode()).hexdigest()


def _forge(chain: str, seq: int, prev: str, org_id, *, version: int = KEYED_HASH, key: bytes | None = None):
    entry = AuditEntry(
        chain=chain,
        seq=seq,
        organization_id=org_id,
        actor_label="mallory",
        action="core.organization.updated",
        object_type="core.organization",
        object_id=str(org_id),
        object_repr="forged",
        changes={"name": ["a", "b"]},
        reason="",
        created_at=timezone.now(),
        prev_hash=prev,
        hash_version=version,
        key_id="k1" if version == KEYED_HASH else "",
    )
    # Without the key the best guess is the unkeyed hash (or a MAC under the attacker's own key).
    entry.hash = audit.compute_hash(prev, entry, key) if key else _unkeyed_hash(prev, entry)
    return entry


def _insert(entry: AuditEntry):
    AuditEntry.objects.bulk_create([entry])  # bypasses save(); no app path exists


def test_new_entries_are_keyed_and_verify(world, keyed, tmp_path, capsys):
    _change(world, "A", 3)
    entries = list(AuditEntry.objects.order_by("seq"))
    assert {(e.hash_version, e.key_id) for e in entries} == {(KEYED_HASH, "k1")}
    assert entries[0].hash != _unkeyed_hash(GENESIS_HASH, entries[0])
    path = _checkpoint(tmp_path)
    line = json.loads(path.read_text().splitlines()[0])
    assert {k: line[k] for k in ("chain", "seq", "hash", "count", "key_id")} == {
        "chain": entries[0].chain,
        "seq": 3,
        "hash": entries[-1].hash,
        "count": 3,
        "key_id": "k1",
    }
    assert line["at"] and len(line["sig"]) == 64
    call_command("audit_verify", "--checkpoint", str(path))
    assert "matches 1 checkpoint" in capsys.readouterr().out


# ---- the seven tampering scenarios -------------------------------------------------------------------


def test_1_appending_a_forged_row_and_updating_the_head_is_detected(world, keyed, tmp_path, capsys):
    _change(world, "A", 3)
    path = _checkpoint(tmp_path)
    head = ChainHead.objects.get()
    forged = _forge(head.chain, 4, head.last_hash, world.org_jia.pk)
    _insert(forged)
    _sql(f"UPDATE {HEADS} SET seq = 4, last_hash = %s WHERE id = %s", [forged.hash, head.pk])
    err = _verify(path, capsys)
    assert f"chain={head.chain} seq=4" in err and "content does not match its hash" in err


def test_2_editing_a_middle_row_and_recomputing_later_hashes_is_detected(world, keyed, tmp_path, capsys):
    _change(world, "B", 4)
    path = _checkpoint(tmp_path)
    prev = AuditEntry.objects.get(seq=1).hash
    for entry in AuditEntry.objects.filter(seq__gte=2).order_by("seq"):
        if entry.seq == 2:
            entry.reason = "篡改"
        entry.prev_hash = prev
        new_hash = _unkeyed_hash(prev, entry)
        _sql(
            f"UPDATE {ENTRIES} SET reason = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [entry.reason, prev, new_hash, entry.pk],
        )
        prev = new_hash
    _sql(f"UPDATE {HEADS} SET last_hash = %s", [prev])
    err = _verify(path, capsys)
    assert "seq=2" in err and "content does not match its hash" in err


def test_3_truncating_the_tail_and_rolling_back_the_head_is_detected(world, keyed, tmp_path, capsys):
    _change(world, "C", 5)
    path = _checkpoint(tmp_path)
    keep = AuditEntry.objects.get(seq=3)
    _sql(f"DELETE FROM {ENTRIES} WHERE seq > 3")
    _sql(f"UPDATE {HEADS} SET seq = 3, last_hash = %s", [keep.hash])
    assert audit.verify() == []  # without a checkpoint the shorter chain is self-consistent ...
    err = _verify(path, capsys)  # ... the checkpoint kept outside the database is not
    assert "chain ends at seq 3 but checkpoint line 1" in err and "saw seq 5" in err


def test_4_deleting_a_middle_row_and_renumbering_is_detected(world, keyed, tmp_path, capsys):
    _change(world, "D", 4)
    path = _checkpoint(tmp_path)
    one = AuditEntry.objects.get(seq=1)
    _sql(f"DELETE FROM {ENTRIES} WHERE seq = 2")
    for seq in (3, 4):
        _sql(f"UPDATE {ENTRIES} SET seq = %s WHERE seq = %s", [seq - 1, seq])
    _sql(f"UPDATE {ENTRIES} SET prev_hash = %s WHERE seq = 2", [one.hash])
    last = AuditEntry.objects.get(seq=3)
    _sql(f"UPDATE {HEADS} SET seq = 3, last_hash = %s", [last.hash])
    err = _verify(path, capsys)
    assert "seq=2" in err and "content does not match its hash" in err


def test_5_editing_a_row_without_recomputing_is_detected(world, keyed, tmp_path, capsys):
    _change(world, "E", 3)
    path = _checkpoint(tmp_path)
    target = AuditEntry.objects.get(seq=2)
    _sql(f"UPDATE {ENTRIES} SET actor_label = %s WHERE id = %s", ["someone-else", target.pk])
    err = _verify(path, capsys)
    assert f"seq=2 entry_id={target.pk}" in err


def test_6_forging_a_chain_for_a_new_org_or_swapping_rows_between_chains_is_detected(
    world, keyed, tmp_path, capsys
):
    _change(world, "F", 2)
    _change(world, "G", 2, org=world.org_yi)
    path = _checkpoint(tmp_path)
    # (a) a whole new chain for a new organisation, hashed as well as anyone without the key can
    new_org = Organization.objects.create(name="伪造机构", kind="institution")
    chain = audit.chain_for(new_org.pk)
    forged = _forge(chain, 1, GENESIS_HASH, new_org.pk)
    _insert(forged)
    ChainHead.objects.create(chain=chain, seq=1, last_hash=forged.hash)
    # (b) a row of 乙's chain moved into 甲's chain, in place of 甲's second row
    jia, yi = audit.chain_for(world.org_jia.pk), audit.chain_for(world.org_yi.pk)
    _sql(f"DELETE FROM {ENTRIES} WHERE chain = %s AND seq = 2", [jia])
    _sql(f"UPDATE {ENTRIES} SET chain = %s WHERE chain = %s AND seq = 2", [jia, yi])
    err = _verify(path, capsys)
    assert f"chain={chain} seq=1" in err and "content does not match its hash" in err
    assert f"chain={jia} seq=2" in err
    assert f"chain={yi}" in err  # 乙 lost its second row: shorter than its checkpoint


def test_7_deleting_the_chain_head_or_replacing_the_key_is_detected(world, keyed, tmp_path, capsys):
    _change(world, "H", 3)
    path = _checkpoint(tmp_path)
    chain = audit.chain_for(world.org_jia.pk)
    # (a) the head row gone: the chain is still walked (from its entries) and reported
    _sql(f"DELETE FROM {HEADS} WHERE chain = %s", [chain])
    err = _verify(path, capsys)
    assert f"chain={chain} seq=3" in err and "chain head row is missing" in err
    # (b) the whole chain gone with its head: the checkpoint still names it
    _sql(f"DELETE FROM {ENTRIES} WHERE chain = %s", [chain])
    err = _verify(path, capsys)
    assert f"chain={chain}" in err and "chain ends at seq 0" in err


def test_7b_a_chain_re_signed_under_a_replaced_key_is_detected(world, keyed, tmp_path, capsys):
    _change(world, "I", 3)
    path = _checkpoint(tmp_path)
    # The attacker controls the server: sets their own AUDIT_KEY and re-signs every row and the head.
    keyed.AUDIT_KEY = "attacker-key-attacker-key-attacker-key-000"
    prev = GENESIS_HASH
    for entry in AuditEntry.objects.order_by("seq"):
        entry.reason = "rewritten" if entry.seq == 2 else entry.reason
        new_hash = audit.compute_hash(prev, entry, keyed.AUDIT_KEY.encode())
        _sql(
            f"UPDATE {ENTRIES} SET reason = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [entry.reason, prev, new_hash, entry.pk],
        )
        prev = new_hash
    _sql(f"UPDATE {HEADS} SET last_hash = %s", [prev])
    assert audit.verify() == []  # consistent under the attacker's key ...
    err = _verify(path, capsys)  # ... but the checkpoint was signed with the real one
    assert "checkpoint line 1: signature does not verify" in err
    # And with the real key restored, the rewritten rows do not verify.
    keyed.AUDIT_KEY = KEY
    err = _verify(path, capsys)
    assert "seq=1" in err and "content does not match its hash" in err


# ---- checkpoints themselves, keys, rotation, legacy rows --------------------------------------------------


def test_a_tampered_or_unknown_checkpoint_line_is_reported(world, keyed, tmp_path, capsys):
    _change(world, "J", 2)
    path = _checkpoint(tmp_path)
    line = json.loads(path.read_text())
    line["seq"] = 1  # moving the checkpoint back to hide a truncation
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(line) + "\nnot json\n")
    err = _verify(bad, capsys)
    assert "checkpoint line 1: signature does not verify" in err
    assert "checkpoint line 2 is not a checkpoint" in err


def test_the_key_never_appears_in_the_database(world, keyed, tmp_path):
    _change(world, "K", 3)
    _checkpoint(tmp_path)
    needles = {KEY, KEY.encode().hex(), keys.checkpoint_key(KEY.encode()).hex()}
    scanned = 0
    for model in apps.get_models():
        for row in model._base_manager.all().values():
            text = json.dumps(row, default=str, ensure_ascii=False)
            scanned += 1
            assert not any(n in text for n in needles), f"audit key found in {model._meta.label}"
    assert scanned > 10
    with connection.cursor() as cursor:  # and not in any column of the audit tables, read raw
        for table in (ENTRIES, HEADS):
            cursor.execute(f"SELECT * FROM {table}")
            assert KEY not in repr(cursor.fetchall())


def test_key_rotation_keeps_old_entries_verifiable(world, keyed, tmp_path, capsys):
    _change(world, "L", 2)
    first = _checkpoint(tmp_path)
    # Rotate: a new key under a new id; the old one is kept for verification only.
    keyed.AUDIT_KEY, keyed.AUDIT_KEY_ID = "second-key-second-key-second-key-0000", "k2"
    keyed.AUDIT_OLD_KEYS = f"k1:{KEY}"
    _change(world, "M", 2)
    assert list(AuditEntry.objects.order_by("seq").values_list("key_id", flat=True)) == [
        "k1",
        "k1",
        "k2",
        "k2",
    ]
    second = _checkpoint(tmp_path)
    assert second == first  # appended to the same file
    lines = [json.loads(x) for x in first.read_text().splitlines()]
    assert [(x["seq"], x["key_id"]) for x in lines] == [(2, "k1"), (4, "k2")]
    call_command("audit_verify", "--checkpoint", str(first))
    assert "matches 2 checkpoint" in capsys.readouterr().out
    # Dropping the old key makes the old entries (and the old checkpoint) unverifiable, and says why.
    keyed.AUDIT_OLD_KEYS = ""
    err = _verify(first, capsys)
    assert "unknown key id 'k1'" in err


def test_legacy_unkeyed_rows_verify_and_are_sealed_by_the_next_keyed_entry(world, keyed, tmp_path, capsys):
    org = world.org_jia
    chain = audit.chain_for(org.pk)
    prev = GENESIS_HASH
    for seq in (1, 2):
        entry = _forge(chain, seq, prev, org.pk, version=LEGACY_HASH)
        _insert(entry)
        prev = entry.hash
    ChainHead.objects.create(chain=chain, seq=2, last_hash=prev)
    assert audit.verify() == []  # rows written before keying still verify (version 1)
    _change(world, "O", 1)  # the first keyed entry chains from, and so seals, the legacy rows
    path = _checkpoint(tmp_path)
    call_command("audit_verify", "--checkpoint", str(path))
    # Rewriting a legacy row with a recomputed unkeyed hash now breaks the keyed link after it.
    legacy = AuditEntry.objects.get(seq=2)
    legacy.reason = "篡改"
    _sql(
        f"UPDATE {ENTRIES} SET reason = %s, hash = %s WHERE id = %s",
        ["篡改", _unkeyed_hash(legacy.prev_hash, legacy), legacy.pk],
    )
    err = _verify(path, capsys)
    assert "seq=3" in err and "prev_hash does not match" in err


def test_an_unkeyed_row_after_keyed_ones_is_a_downgrade(world, keyed):
    _change(world, "P", 1)
    head = ChainHead.objects.get()
    forged = _forge(head.chain, 2, head.last_hash, world.org_jia.pk, version=LEGACY_HASH)
    _insert(forged)
    _sql(f"UPDATE {HEADS} SET seq = 2, last_hash = %s", [forged.hash])
    (b,) = audit.verify()
    assert b.seq == 2 and "downgrade" in b.problem


def test_checkpoint_to_stdout_and_the_scheduled_job_writes_to_the_configured_dir(
    world, keyed, tmp_path, capsys
):
    import datetime as dt

    from meiguard.lifecycle import actions as lifecycle
    from meiguard.lifecycle.choices import Job

    _change(world, "Q", 2)
    call_command("audit_checkpoint", "--out", "-")
    assert json.loads(capsys.readouterr().out.strip())["seq"] == 2
    keyed.AUDIT_CHECKPOINT_DIR = ""
    assert lifecycle.run_job(Job.AUDIT_CHECKPOINT, "2026-12-01") == {"not_configured": 1}
    keyed.AUDIT_CHECKPOINT_DIR = str(tmp_path / "worm")
    assert lifecycle.run_job(Job.AUDIT_CHECKPOINT, "2026-12-01") == {"chains": 2}  # 甲 and platform (job run)
    path = checkpoints.daily_path(dt.date(2026, 12, 1))
    assert path.parent == tmp_path / "worm" and path.name == "audit-checkpoints-2026-12.jsonl"
    call_command("audit_verify", "--checkpoint", str(path))


def test_settings_refuse_to_start_without_a_key_when_debug_is_off(monkeypatch):
    import subprocess
    import sys

    env = {
        "DEBUG": "false",
        "SECRET_KEY": "x" * 50,
        "FIELD_ENCRYPTION_KEY": "k" * 43 + "=",
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "meiguard.settings",
    }
    code = "import django; django.setup()"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=".")
    assert run.returncode != 0 and "AUDIT_KEY (or AUDIT_KEY_FILE) must be set" in run.stderr
    run = subprocess.run(
        [sys.executable, "-c", code], env={**env, "AUDIT_KEY": KEY}, capture_output=True, text=True, cwd="."
    )
    assert run.returncode == 0, run.stderr


def test_system_checks_refuse_a_dev_or_short_key_in_production(settings):
    from meiguard.audit.checks import check_audit_checkpoints, check_audit_key

    settings.DEBUG = False
    settings.AUDIT_KEY_ID = keys.DEV_KEY_ID
    settings.AUDIT_KEY = "short"
    settings.AUDIT_OLD_KEYS = ""
    assert {m.id for m in check_audit_key()} == {"meiguard.E102", "meiguard.E103"}
    settings.AUDIT_KEY_ID, settings.AUDIT_KEY = "k9", KEY
    settings.AUDIT_OLD_KEYS = "k9:another-key-another-key-another-key"
    assert [m.id for m in check_audit_key()] == ["meiguard.E104"]
    settings.AUDIT_OLD_KEYS = "no-colon"
    assert [m.id for m in check_audit_key()] == ["meiguard.E101"]
    settings.AUDIT_CHECKPOINT_DIR = ""
    assert [m.id for m in check_audit_checkpoints()] == ["meiguard.W101"]
