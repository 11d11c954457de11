"""Lots registered before the ledger carried a typed quantity. That quantity becomes the ledger's opening
balance: one "opening balance" adjustment per lot at a location named 期初库存 of its institution, so that
``Lot.quantity`` equals the sum of the movements from here on (ADR 0016). Nothing changes for a new database."""

from django.db import migrations
from django.utils import timezone

OPENING_LOCATION = "期初库存"
OPENING_REASON = "期初库存:台账启用前登记的数量"


def forwards(apps, schema_editor):
    Lot = apps.get_model("registry", "Lot")
    Location = apps.get_model("inventory", "StorageLocation")
    Movement = apps.get_model("inventory", "StockMovement")
    now = timezone.now()
    locations = {}
    for lot in Lot.objects.filter(quantity__gt=0).order_by("pk").iterator():
        loc = locations.get(lot.institution_id)
        if loc is None:
            loc, _created = Location.objects.get_or_create(
                institution_id=lot.institution_id, name=OPENING_LOCATION, defaults={"kind": "ordinary"}
            )
            locations[lot.institution_id] = loc
        Movement.objects.create(
            institution_id=lot.institution_id,
            lot_id=lot.pk,
            location=loc,
            kind="adjustment",
            quantity=lot.quantity,
            reason=OPENING_REASON,
            at=now,
        )


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
