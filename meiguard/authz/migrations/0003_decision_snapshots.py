"""Store each distinct decision snapshot once (content-addressed) and reference it from the log rows."""

import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models


def digest_of(data):
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def move_snapshots(apps, schema_editor):
    DecisionLog = apps.get_model("authz", "DecisionLog")
    DecisionSnapshot = apps.get_model("authz", "DecisionSnapshot")
    for row in DecisionLog.objects.all().only("pk", "snapshot").iterator(chunk_size=500):
        digest = digest_of(row.snapshot)
        DecisionSnapshot.objects.get_or_create(digest=digest, defaults={"data": row.snapshot})
        DecisionLog.objects.filter(pk=row.pk).update(snapshot_ref_id=digest)


class Migration(migrations.Migration):
    dependencies = [("authz", "0002_decisionlog_fewer_indexes")]

    operations = [
        migrations.CreateModel(
            name="DecisionSnapshot",
            fields=[
                ("digest", models.CharField(max_length=64, primary_key=True, serialize=False, verbose_name="摘要")),
                ("data", models.JSONField(verbose_name="事实快照")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="记录时间")),
            ],
            options={"verbose_name": "事实快照", "verbose_name_plural": "事实快照"},
        ),
        migrations.AddField(
            model_name="decisionlog",
            name="snapshot_ref",
            field=models.ForeignKey(
                null=True, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                to="authz.decisionsnapshot",
            ),
        ),
        migrations.RunPython(move_snapshots, migrations.RunPython.noop),
        migrations.RemoveField(model_name="decisionlog", name="snapshot"),
        migrations.RenameField(model_name="decisionlog", old_name="snapshot_ref", new_name="snapshot"),
        migrations.AlterField(
            model_name="decisionlog",
            name="snapshot",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                to="authz.decisionsnapshot", verbose_name="事实快照",
            ),
        ),
    ]
