"""Expiries offer open / renew / chase where they are listed (issue 16 item 3). 催办 notifies the holder now,
once a day per item, audited on the item; only those who answer for the organisation's compliance may."""

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.notify.models import Notification

from .conftest import authorize, expire_licence_in  # authorize: re-exported from authz tests

pytestmark = pytest.mark.django_db


def test_the_list_offers_open_renew_and_chase(c, world):
    today = timezone.localdate()
    q = expire_licence_in(c, 20, today)
    auth = authorize(
        c.jia, c.li, procedure_code="derm-chemical-peel", valid_until=today + dt.timedelta(days=10)
    )
    page = world.client("zhao").get("/lifecycle/").content.decode()
    assert f'data-chase="qualification-{q.pk}"' in page
    assert f'href="/authz/authorizations/{auth.pk}/#renew"' in page
    assert f'data-chase="authorization-{auth.pk}"' in page
    # A doctor sees the list but may not chase.
    assert "data-chase=" not in world.client("li").get("/lifecycle/").content.decode()


def test_chase_notifies_the_holder_once_a_day_and_is_audited(c, world):
    q = expire_licence_in(c, 20, timezone.localdate())
    client = world.client("zhao")
    r = client.post(
        "/lifecycle/chase/", {"kind": "qualification", "object_id": q.pk, "next": "?kind=qualification"}
    )
    assert r.status_code == 302 and r["Location"] == "/lifecycle/?kind=qualification"
    sent = Notification.objects.filter(dedupe_key__contains=f"qualification:{q.pk}:chase:")
    assert sent.count() >= 1
    assert world.users["li"].pk in set(sent.values_list("recipient_id", flat=True))
    entry = AuditEntry.objects.get(action="lifecycle.reminder.chased")
    assert (entry.object_id, entry.actor.username) == (str(q.pk), "zhao")
    # Again today: nothing new, no second audit entry.
    client.post("/lifecycle/chase/", {"kind": "qualification", "object_id": q.pk})
    assert (
        Notification.objects.filter(dedupe_key__contains=f"qualification:{q.pk}:chase:").count()
        == sent.count()
    )
    assert AuditEntry.objects.filter(action="lifecycle.reminder.chased").count() == 1


def test_chase_refuses_the_wrong_people_and_bad_input(c, world):
    q = expire_licence_in(c, 20, timezone.localdate())
    assert (
        world.client("li").post("/lifecycle/chase/", {"kind": "qualification", "object_id": q.pk}).status_code
        == 403
    )
    assert (
        world.client("sun")
        .post("/lifecycle/chase/", {"kind": "qualification", "object_id": q.pk})
        .status_code
        == 404
    )
    assert (
        world.client("zhao").post("/lifecycle/chase/", {"kind": "nope", "object_id": q.pk}).status_code == 404
    )
    assert (
        world.client("zhao")
        .post("/lifecycle/chase/", {"kind": "qualification", "object_id": "x"})
        .status_code
        == 404
    )
    assert world.client("zhao").get("/lifecycle/chase/").status_code == 405
    assert not AuditEntry.objects.filter(action="lifecycle.reminder.chased").exists()
    assert not Notification.objects.filter(dedupe_key__contains=":chase:").exists()
