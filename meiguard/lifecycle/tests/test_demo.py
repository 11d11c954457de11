from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from meiguard.core.access import Actor
from meiguard.lifecycle import demo
from meiguard.lifecycle.models import Reminder
from meiguard.lifecycle.queries import expiring
from meiguard.notify.models import Notification
from meiguard.registry.models import Institution

pytestmark = pytest.mark.django_db


def test_demo_fills_every_bucket_at_yamei_and_is_idempotent(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = StringIO()
        call_command("seed_demo", "--quiet", stdout=out)  # seed_demo runs this app's seed
    yamei = Institution.objects.get(name=demo.YAMEI)
    items = expiring(Actor.system(), on=timezone.localdate(), institution_id=yamei.pk)
    assert {i.bucket for i in items} >= {7, 30, 60, 90}
    assert "RBY2026D07" in out.getvalue()
    zhao_inbox = Notification.objects.filter(recipient__username="zhao")
    assert zhao_inbox.filter(kind="reminder").exists() and zhao_inbox.filter(kind="expiry").exists()
    counts = (Reminder.objects.count(), Notification.objects.count(), len(items))
    again = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(again)
    assert "already there" in again.getvalue()
    assert counts == (
        Reminder.objects.count(),
        Notification.objects.count(),
        len(expiring(Actor.system(), on=timezone.localdate(), institution_id=yamei.pk)),
    )


def test_demo_skips_without_the_base_world(db):
    out = StringIO()
    demo.seed(out)
    assert "skipped" in out.getvalue()
