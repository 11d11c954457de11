"""Every decision snapshot names its rule-pack part (a migration of its own: PostgreSQL refuses to alter a
table with the deferred foreign-key checks of 0004's updates still pending in the same transaction)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("authz", "0004_snapshot_pack_part")]

    operations = [
        migrations.AlterField(
            model_name="decisionsnapshot",
            name="pack",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="authz.decisionsnapshotpack",
                verbose_name="规则事实",
            ),
        ),
    ]
