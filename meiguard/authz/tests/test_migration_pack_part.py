"""Migration 0004 splits the rule-pack part out of stored snapshots; the digest and the decoded facts stay."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from meiguard.authz.codec import part_digest, snapshot_digest

BEFORE = [("authz", "0003_decision_snapshots")]
AFTER = [("authz", "0005_snapshot_pack_required")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_snapshots_are_split_and_keep_their_digest():
    old_apps = _migrate(BEFORE)
    Snapshot = old_apps.get_model("authz", "DecisionSnapshot")
    pack = {"pack": "cn-national", "version": 1, "limits": [{"metric": "dose", "max": "200"}]}
    rows = []
    for name in ("李医生", "周医生"):
        data = {
            "pack": pack,
            "institution": {"id": 1, "name": "甲诊所"},
            "practitioner": {"id": 2, "name": name},
            "supervisor": None,
            "authorizations": [],
            "lots": [],
            "devices": [],
        }
        rows.append(Snapshot.objects.create(digest=snapshot_digest(data), data=data))
    try:
        new_apps = _migrate(AFTER)
        Snapshot = new_apps.get_model("authz", "DecisionSnapshot")
        Pack = new_apps.get_model("authz", "DecisionSnapshotPack")
        assert Pack.objects.count() == 1
        assert Pack.objects.get().digest == part_digest(pack)
        for old in rows:
            new = Snapshot.objects.select_related("pack").get(digest=old.digest)
            assert "pack" not in new.data
            facts = {"pack": new.pack.data, **new.data}
            assert facts == old.data and snapshot_digest(facts) == old.digest
        # and back: the reverse migration joins the parts again
        back_apps = _migrate(BEFORE)
        Snapshot = back_apps.get_model("authz", "DecisionSnapshot")
        assert {r.digest: r.data for r in Snapshot.objects.all()} == {r.digest: r.data for r in rows}
    finally:
        back = MigrationExecutor(connection)
        back.loader.build_graph()
        back.migrate(back.loader.graph.leaf_nodes())
