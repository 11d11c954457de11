"""Reminder days are an institution policy setting (本机构规范): 甲 sets 45/14, 乙 keeps the default 90/60/30/7."""

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.authz import snapshot
from meiguard.core.errors import ActionError
from meiguard.lifecycle import actions
from meiguard.lifecycle.models import Reminder
from meiguard.registry import actions as reg
from meiguard.registry.models import Qualification
from meiguard.rules import institution

from .conftest import SYSTEM

pytestmark = pytest.mark.django_db


def _publish_days(c, values):
    zhao = c.world.actor("zhao")  # 甲's compliance officer
    draft = institution.save_draft(zhao, c.jia.pk, values={"expiry_reminder_days": values})
    today = timezone.localdate()
    institution.publish(zhao, c.jia.pk, draft.version, effective_from=today)
    snapshot.clear()
    return today


def _expire_in(practitioner, n, on):
    q = Qualification.objects.get(practitioner=practitioner, kind="practice_licence")
    return reg.update_qualification(SYSTEM, q.pk, valid_until=on + dt.timedelta(days=n))


def _sent(q):
    return sorted(
        Reminder.objects.filter(item_kind="qualification", object_id=q.pk).values_list("threshold", flat=True)
    )


def test_each_institution_is_reminded_at_its_own_days(c, django_capture_on_commit_callbacks):
    today = _publish_days(c, "45, 14")
    jia_licence = _expire_in(c.li, 50, today)
    yi_licence = _expire_in(c.sun_doctor, 50, today)
    for day in range(0, 51):
        with django_capture_on_commit_callbacks(execute=True):
            actions.run_job("scan_expiries", (today + dt.timedelta(days=day)).isoformat())
    assert _sent(jia_licence) == [14, 45]  # 甲's own days
    assert _sent(yi_licence) == [7, 30, 60]  # 乙: the default (50 days left on day one: the 60-day reminder)


def test_a_reminder_outside_the_institutions_days_is_not_delivered(c):
    today = _publish_days(c, [45, 14])
    q = _expire_in(c.li, 30, today)
    # A task queued under the default days (30) finds that 甲 now reminds at 45 and 14: nothing is sent.
    assert actions.deliver_reminder("qualification", q.pk, 30, q.valid_until, on=today) == 0
    assert actions.deliver_reminder("qualification", q.pk, 45, q.valid_until, on=today) > 0


def test_the_days_in_force_are_read_in_two_queries(c, django_assert_num_queries):
    today = _publish_days(c, "60,1")
    with django_assert_num_queries(2):
        own, default = institution.reminder_days_in_force(today)
    assert own == {c.jia.pk: (60, 1)}
    assert default == institution.DEFAULT_REMINDER_DAYS


@pytest.mark.parametrize(
    "raw",
    ["", "0", "366", "30,30", "1,2,3,4,5,6,7", "30, x", "٣٠", "1_0", [True], [30.5], "-7"],
)
def test_malformed_reminder_days_are_refused(raw):
    setting = institution.SETTINGS_BY_KEY["expiry_reminder_days"]
    with pytest.raises(ActionError) as exc:
        institution.parse_value(setting, raw)
    assert exc.value.field == "values.expiry_reminder_days"


def test_reminder_days_are_kept_largest_first():
    setting = institution.SETTINGS_BY_KEY["expiry_reminder_days"]
    assert institution.parse_value(setting, "7, 90 ,30") == [90, 30, 7]
    assert institution.parse_value(setting, [14, 45]) == [45, 14]
