import pytest
from django.core import mail

from meiguard.core.models import Membership
from meiguard.lifecycle import actions, tasks
from meiguard.lifecycle.models import Reminder
from meiguard.notify.models import Notification, NotificationKind
from meiguard.registry import actions as reg
from meiguard.registry.models import DistributionAuthorization

from .conftest import ON, SYSTEM, days, expire_licence_in, new_lot, supplier_admin, with_emails

pytestmark = pytest.mark.django_db


def scan(on, capture):
    with capture(execute=True):
        return actions.run_job("scan_expiries", on.isoformat())


def reminders(**filters):
    return list(
        Reminder.objects.filter(**filters).values_list("item_kind", "object_id", "expires_on", "threshold")
    )


def titles(user):
    return list(Notification.objects.filter(recipient=user).values_list("title", flat=True))


@pytest.mark.parametrize("threshold", [90, 60, 30, 7])
def test_it_reminds_exactly_at_each_threshold_once(c, world, django_capture_on_commit_callbacks, threshold):
    q = expire_licence_in(c, 200)
    expiry = q.valid_until
    on = days(-threshold, expiry)
    scan(on, django_capture_on_commit_callbacks)
    assert reminders(item_kind="qualification") == [("qualification", q.pk, expiry, threshold)]
    li = world.users["li"]
    assert len(titles(li)) == 1 and f"还剩 {threshold} 天" in titles(li)[0]
    # The job runs again the same day, and the next day: nothing new.
    scan(on, django_capture_on_commit_callbacks)
    scan(days(1, on), django_capture_on_commit_callbacks)
    assert Reminder.objects.filter(item_kind="qualification").count() == 1
    assert Notification.objects.filter(recipient=li).count() == 1


def test_a_daily_run_sends_the_four_reminders_over_time(c, world, django_capture_on_commit_callbacks):
    q = expire_licence_in(c, 100)
    for day in range(0, 101):
        scan(days(day), django_capture_on_commit_callbacks)
    sent = sorted(t for *_, t in reminders(item_kind="qualification", object_id=q.pk))
    assert sent == [7, 30, 60, 90]
    assert (
        Notification.objects.filter(recipient=world.users["li"], kind=NotificationKind.REMINDER).count() == 4
    )


def test_missed_days_are_caught_up_with_the_smallest_threshold_only(c, django_capture_on_commit_callbacks):
    q = expire_licence_in(c, 25)  # the scheduler was down at 90 and 60 days
    scan(ON, django_capture_on_commit_callbacks)
    assert reminders(item_kind="qualification") == [("qualification", q.pk, q.valid_until, 30)]


def test_renewal_re_arms_the_reminders(c, world, django_capture_on_commit_callbacks):
    q = expire_licence_in(c, 30)
    scan(ON, django_capture_on_commit_callbacks)
    renewed = reg.update_qualification(SYSTEM, q.pk, valid_until=days(85))
    scan(days(1), django_capture_on_commit_callbacks)
    assert sorted(reminders(item_kind="qualification")) == sorted(
        [("qualification", q.pk, days(30), 30), ("qualification", q.pk, renewed.valid_until, 90)]
    )
    assert len(titles(world.users["li"])) == 2


def test_holder_and_compliance_officer_are_told_and_emailed(c, world, django_capture_on_commit_callbacks):
    with_emails(world)
    expire_licence_in(c, 30)
    scan(ON, django_capture_on_commit_callbacks)
    notified = set(Notification.objects.values_list("recipient__username", flat=True))
    assert notified == {"li", "zhao"}  # the admin is not told while there is a compliance officer
    assert sorted(m.to[0] for m in mail.outbox) == ["li@example.cn", "zhao@example.cn"]
    assert (
        "执业证书" in mail.outbox[0].subject and f"/registry/practitioners/{c.li.pk}/" in mail.outbox[0].body
    )
    ledger = Reminder.objects.get()
    assert sorted(ledger.recipient_ids) == sorted([world.users["li"].pk, world.users["zhao"].pk])
    assert ledger.organization_id == world.org_jia.pk


def test_institution_admins_are_told_when_there_is_no_compliance_officer(
    c, world, django_capture_on_commit_callbacks
):
    Membership.objects.filter(user=world.users["zhao"]).update(is_active=False)
    new_lot(c, days(7))
    scan(ON, django_capture_on_commit_callbacks)
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"wang"}


def test_supplier_items_go_to_supplier_admins_and_the_institutions_holding_them(
    c, world, django_capture_on_commit_callbacks
):
    chen = supplier_admin(c)
    reg.update_product(SYSTEM, c.toxin.pk, registration_valid_until=days(60))
    reg.update_supplier(SYSTEM, c.toxin.supplier_id, business_licence_valid_until=days(30))
    da = DistributionAuthorization.objects.get(brand="热玛吉-FLX")
    reg.update_distribution_authorization(SYSTEM, da.pk, valid_until=days(7))
    scan(ON, django_capture_on_commit_callbacks)
    by_kind = dict(Reminder.objects.values_list("item_kind", "recipient_ids"))
    zhao = world.users["zhao"].pk
    assert sorted(by_kind["product_registration"]) == sorted([chen.pk, zhao])  # 甲 holds a lot of 衡力
    assert by_kind["supplier_licence"] == [chen.pk]
    assert sorted(by_kind["distribution_authorization"]) == sorted([chen.pk, zhao])  # 甲 runs a 热玛吉 device


def test_a_concurrent_double_run_sends_once(c, world, settings, django_capture_on_commit_callbacks):
    """Two schedulers scan the same day before either worker has sent: two tasks, one reminder."""
    from django_tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    expire_licence_in(c, 7)
    new_lot(c, days(30))
    scan(ON, django_capture_on_commit_callbacks)
    scan(ON, django_capture_on_commit_callbacks)
    queued = [r for r in default_task_backend.results if r.task.name == "send_reminder"]  # type: ignore[attr-defined]
    assert len(queued) == 4  # both scans enqueued both reminders
    with django_capture_on_commit_callbacks(execute=True):
        sent = [r.task.call(*r.args, **r.kwargs) for r in queued]
    assert sorted(sent) == [0, 0, 1, 2]  # lot: zhao; licence: li + zhao; the duplicates send nothing
    assert Reminder.objects.count() == 2
    assert Notification.objects.filter(recipient=world.users["zhao"]).count() == 2


def test_the_ledger_decides_when_workers_race(c, world):
    """The second worker's INSERT hits the unique constraint (as on PostgreSQL under a real race)."""
    q = expire_licence_in(c, 7)
    assert tasks.send_reminder.call("qualification", q.pk, 7, q.valid_until.isoformat(), ON.isoformat()) == 2
    assert tasks.send_reminder.call("qualification", q.pk, 7, q.valid_until.isoformat(), ON.isoformat()) == 0
    assert Notification.objects.count() == 2


def test_a_stale_reminder_for_an_old_date_is_not_sent(c):
    q = expire_licence_in(c, 7)
    old = q.valid_until
    reg.update_qualification(SYSTEM, q.pk, valid_until=days(400))  # renewed between scan and send
    assert actions.deliver_reminder("qualification", q.pk, 7, old, on=ON) == 0
    assert actions.deliver_reminder("qualification", q.pk, 30, days(400), on=ON) == 0  # not due yet
    assert Reminder.objects.count() == 0 and Notification.objects.count() == 0


def test_used_up_lots_and_left_practitioners_get_no_reminders(c, django_capture_on_commit_callbacks):
    lot = new_lot(c, days(7))
    reg.change_lot_status(SYSTEM, lot.pk, status="used_up")
    scan(ON, django_capture_on_commit_callbacks)
    assert Reminder.objects.count() == 0


def test_each_reminder_is_audited(c, django_capture_on_commit_callbacks):
    from meiguard.audit.models import AuditEntry

    expire_licence_in(c, 7)
    scan(ON, django_capture_on_commit_callbacks)
    entry = AuditEntry.objects.get(action="lifecycle.reminder.sent")
    assert entry.object_type == "lifecycle.reminder" and entry.reason == "T-7"


def test_expired_lots_still_held_are_flagged_once(c, world, django_capture_on_commit_callbacks):
    lot = new_lot(c, days(-3))
    used = new_lot(c, days(-3))
    reg.change_lot_status(SYSTEM, used.pk, status="used_up")
    with django_capture_on_commit_callbacks(execute=True):
        first = actions.run_job("flag_expired_lots", ON.isoformat())
        second = actions.run_job("flag_expired_lots", days(1).isoformat())
    none = {"overdue_recalls": 0, "recall_reminders": 0}
    assert first == {"expired_lots": 1, "notified": 1, **none} and second == {
        "expired_lots": 0,
        "notified": 0,
        **none,
    }
    assert reminders(item_kind="lot") == [("lot", lot.pk, lot.expiry_date, 0)]
    note = Notification.objects.get(recipient=world.users["zhao"])
    assert note.kind == NotificationKind.EXPIRY and "已过期" in note.title
    lot.refresh_from_db()
    assert lot.status == "available"  # the engine denies it (LOT_EXPIRED); the status is not invented
