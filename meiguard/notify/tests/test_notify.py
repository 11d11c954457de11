import pytest
from django.core import mail

from meiguard.core.choices import Role
from meiguard.notify import services
from meiguard.notify.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db


def test_send_stores_one_row_per_distinct_recipient_and_emails_after_commit(
    world, django_capture_on_commit_callbacks
):
    li, zhao = world.users["li"], world.users["zhao"]
    li.email, zhao.email = "li@example.cn", ""
    li.save()
    zhao.save()
    with django_capture_on_commit_callbacks(execute=True):
        rows = services.send(
            [li, zhao, li.pk, None], kind=NotificationKind.APPROVAL, title="待审批", url="/x"
        )
    assert sorted(r.recipient_id for r in rows) == sorted([li.pk, zhao.pk])
    assert [m.to for m in mail.outbox] == [["li@example.cn"]]  # zhao has no address
    assert "http://" in mail.outbox[0].body and mail.outbox[0].body.endswith("/x")
    assert Notification.objects.get(recipient=li).emailed_at is not None


def test_dedupe_key_delivers_once(world, django_capture_on_commit_callbacks):
    li = world.users["li"]
    li.email = "li@example.cn"
    li.save()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.send([li], kind=NotificationKind.REMINDER, title="t", dedupe_key="k1")
        second = services.send([li], kind=NotificationKind.REMINDER, title="t", dedupe_key="k1")
    assert len(first) == 1 and second == []
    assert Notification.objects.filter(recipient=li, dedupe_key="k1").count() == 1
    assert len(mail.outbox) == 1


def test_users_with_roles(world):
    ids = services.users_with_roles(world.org_jia.pk, [Role.COMPLIANCE_OFFICER])
    assert ids == [world.users["zhao"].pk]
    assert services.users_with_roles(None, [Role.DOCTOR]) == []


def test_inbox_shows_only_my_notifications_and_marks_read(world):
    services.send(
        [world.users["li"]], kind=NotificationKind.APPLICATION, title="给李医生", url="/authz/check/"
    )
    services.send([world.users["zhao"]], kind=NotificationKind.APPLICATION, title="给赵专员")
    c = world.client("li")
    page = c.get("/notifications/")
    assert "给李医生" in page.content.decode() and "给赵专员" not in page.content.decode()
    assert ">1</span>" in c.get("/notifications/").content.decode()  # unread badge in the header
    mine = Notification.objects.get(recipient=world.users["li"])
    other = Notification.objects.get(recipient=world.users["zhao"])
    assert c.post(f"/notifications/{other.pk}/read").status_code == 404
    resp = c.post(f"/notifications/{mine.pk}/read")
    assert resp.status_code == 302 and resp["Location"] == "/authz/check/"
    mine.refresh_from_db()
    assert mine.read_at is not None


def test_api_lists_my_unread(world):
    services.send([world.users["li"]], kind=NotificationKind.APPLICATION, title="a")
    c = world.client("li")
    data = c.get("/api/v1/notifications?unread=true").json()
    assert [d["title"] for d in data] == ["a"]
