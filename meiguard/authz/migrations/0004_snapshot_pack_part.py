"""Store the rule-pack part of decision snapshots once, apart from the people, lots and devices.

A snapshot's digest is unchanged (it always combined the parts' digests); existing rows are split here.
"""

import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models


def digest_of(data):
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def split_pack_parts(apps, schema_editor):
    DecisionSnapshot = apps.get_model("authz", "DecisionSnapshot")
    DecisionSnapshotPack = apps.get_model("authz", "DecisionSnapshotPack")
    known: set[str] = set()
    for row in DecisionSnapshot.objects.filter(pack__isnull=True).iterator(chunk_size=500):
        data = dict(row.data)
        part = data.pop("pack")
        digest = digest_of(part)
        if digest not in known:
            DecisionSnapshotPack.objects.get_or_create(digest=digest, defaults={"data": part})
            known.add(digest)
        DecisionSnapshot.objects.filter(pk=row.pk).update(data=data, pack_id=digest)


def join_pack_parts(apps, schema_editor):
    DecisionSnapshot = apps.get_model("authz", "DecisionSnapshot")
    for row in DecisionSnapshot.objects.select_related("pack").iterator(chunk_size=500):
        DecisionSnapshot.objects.filter(pk=row.pk).update(data={"pack": row.pack.data, **row.data}, pack_id=None)


class Migration(migrations.Migration):
    dependencies = [("authz", "0003_decision_snapshots")]

    operations = [
        migrations.CreateModel(
            name="DecisionSnapshotPack",
            fields=[
                ("digest", models.CharField(max_length=64, primary_key=True, serialize=False, verbose_name="摘要")),
                ("data", models.JSONField(verbose_name="事实快照")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="记录时间")),
            ],
            options={"verbose_name": "规则事实", "verbose_name_plural": "规则事实"},
        ),
        migrations.AddField(
            model_name="decisionsnapshot",
            name="pack",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="authz.decisionsnapshotpack",
                verbose_name="规则事实",
            ),
        ),
        migrations.RunPython(split_pack_parts, join_pack_parts),
    ]
