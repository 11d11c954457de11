import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meiguard.authz.choices import AuthorizationKind
from meiguard.core.choices import Role
from meiguard.notify import messages, services
from meiguard.notify.models import Notification, NotificationKind
from meiguard.workflow.choices import RiskLevel, Stage

pytestmark = pytest.mark.django_db

# a test-only message whose text is its parameter (not a translatable msgid)
messages.register("test.plain", title="%(text)s")


def _plain(text: str) -> dict[str, object]:
    return {"message": "test.plain", "params": {"text": text}}


def test_send_stores_one_row_per_distinct_recipient_and_emails_after_commit(
    world, django_capture_on_commit_callbacks
):
    li, zhao = world.users["li"], world.users["zhao"]
    li.email, zhao.email = "li@example.cn", ""
    li.save()
    zhao.save()
    with django_capture_on_commit_callbacks(execute=True):
        rows = services.send(
            [li, zhao, li.pk, None], kind=NotificationKind.APPROVAL, **_plain("待审批"), url="/x"
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
        first = services.send([li], kind=NotificationKind.REMINDER, **_plain("t"), dedupe_key="k1")
        second = services.send([li], kind=NotificationKind.REMINDER, **_plain("t"), dedupe_key="k1")
    assert len(first) == 1 and second == []
    assert Notification.objects.filter(recipient=li, dedupe_key="k1").count() == 1
    assert len(mail.outbox) == 1


def test_users_with_roles(world):
    ids = services.users_with_roles(world.org_jia.pk, [Role.COMPLIANCE_OFFICER])
    assert ids == [world.users["zhao"].pk]
    assert services.users_with_roles(None, [Role.DOCTOR]) == []


def test_inbox_shows_only_my_notifications_and_marks_read(world):
    services.send(
        [world.users["li"]], kind=NotificationKind.APPLICATION, **_plain("给李医生"), url="/authz/check/"
    )
    services.send([world.users["zhao"]], kind=NotificationKind.APPLICATION, **_plain("给赵专员"))
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
    services.send([world.users["li"]], kind=NotificationKind.APPLICATION, **_plain("a"))
    c = world.client("li")
    data = c.get("/api/v1/notifications?unread=true").json()
    assert [d["title"] for d in data] == ["a"]


def _approval_notice(world):
    return services.send(
        [world.users["li"]],
        kind=NotificationKind.APPROVAL,
        message="workflow.step_open",
        params={
            "who": "李明",
            "kind": messages.label(AuthorizationKind.QUALIFICATION.label),
            "pk": 7,
            "stage": messages.label(Stage.MEDICAL_DIRECTOR.label),
            "scope": messages.procedure("derm-botulinum-toxin-injection"),
            "risk": messages.label(RiskLevel.HIGH.label),
        },
        url="/applications/7/act/",
    )[0]


def test_the_same_notification_reads_in_each_readers_language(world):
    row = _approval_notice(world)
    row.refresh_from_db()
    assert row.message_code == "workflow.step_open"
    assert row.title.startswith("待审批:李明")  # the site-language fallback is stored
    c = world.client("li")
    zh = c.get("/notifications/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "待审批:李明 的资质授权(项目)申请 #7(医务科审核)" in zh and "肉毒" in zh
    en = c.get("/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Awaiting your approval: Qualification authorization (procedure) application #7 for 李明" in en
    assert "待审批:" not in en and "医务科审核" not in en and "Botulinum" in en
    api = c.get("/api/v1/notifications", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (
        api[0]["title"].startswith("Awaiting your approval")
        and api[0]["message_code"] == "workflow.step_open"
    )


def test_email_is_rendered_in_the_recipients_language(world, django_capture_on_commit_callbacks, monkeypatch):
    from meiguard.notify import tasks

    li = world.users["li"]
    li.email = "li@example.cn"
    li.save()
    with django_capture_on_commit_callbacks(execute=True):
        _approval_notice(world)
    assert mail.outbox[-1].subject.startswith("[meiguard] 待审批:李明")  # no preference: site language
    monkeypatch.setattr(tasks, "recipient_language", lambda user: "en")
    Notification.objects.update(emailed_at=None)
    tasks.email_notifications.call(list(Notification.objects.values_list("pk", flat=True)))
    assert mail.outbox[-1].subject.startswith("[meiguard] Awaiting your approval")


def test_rows_older_than_message_codes_show_their_stored_text(world):
    Notification.objects.create(
        recipient=world.users["li"], kind=NotificationKind.REMINDER, title="旧通知标题", body="旧内容"
    )
    Notification.objects.create(
        recipient=world.users["li"],
        kind=NotificationKind.REMINDER,
        title="代码已删除",
        message_code="gone.code",
        params={},
    )
    en = world.client("li").get("/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "旧通知标题" in en and "旧内容" in en and "代码已删除" in en


def test_send_refuses_an_unknown_message_code(world):
    with pytest.raises(KeyError):
        services.send([world.users["li"]], kind=NotificationKind.REMINDER, message="no.such.code")
    assert not Notification.objects.exists()


def test_inbox_query_count_does_not_grow_with_rows(world, django_assert_max_num_queries):
    services.send([world.users["li"]], kind=NotificationKind.REMINDER, **_plain("x"), dedupe_key="a")
    c = world.client("li")
    c.get("/notifications/")
    with CaptureQueriesContext(connection) as first:
        c.get("/notifications/")
    baseline = len(first.captured_queries)  # read now: the next request resets the query log
    for i in range(10):
        _approval_notice(world)
        services.send([world.users["li"]], kind=NotificationKind.REMINDER, **_plain(f"y{i}"))
    assert 0 < baseline <= 30
    with django_assert_max_num_queries(baseline):
        c.get("/notifications/")
