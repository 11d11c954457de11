"""Expiry, in a real browser: the daily job turns an authorization whose term has ended into 到期, the Check
page refuses it with AUTHORIZATION_EXPIRED, and its holder finds the notice at /notifications/.

李医生's chemical-peel authorization runs until 2026-03-03 (the clinic's reference day). On that last day the
Check page allows the peel, warning that the authorization is about to expire. The scheduler then runs the
daily jobs for 2026-03-04 (``manage.py run_scheduler --once --date 2026-03-04``, tasks run in-process under
tests): the authorization page shows 到期 with the reason 期限届满, the same check on 2026-03-04 is denied, and
李医生 signs in to an unread 到期失效 notice linking to the authorization. Fixed dates keep the journey
independent of the wall clock; the engine needs no job to deny a past term (it compares dates), the job makes
the archive, the capability lists and the people concerned agree with it.
"""

from __future__ import annotations

import datetime as dt
import io
import re

from django.core.management import call_command
from playwright.sync_api import expect

from meiguard.audit.models import AuditEntry
from meiguard.authz.models import Authorization, DecisionLog
from meiguard.authz.tests.conftest import PAST, authorize
from meiguard.lifecycle.models import JobRun
from meiguard.notify.models import Notification

from .conftest import login
from .helpers import result, run_check, shown_log_id, switch_user

PEEL = "derm-chemical-peel"
LAST_DAY = dt.date(2026, 3, 3)
JOB_DAY = LAST_DAY + dt.timedelta(days=1)


def test_the_daily_job_expires_an_ended_authorization_and_the_check_then_denies(page, clinic, shot):
    auth = authorize(clinic.jia, clinic.li, procedure_code=PEEL, valid_from=PAST, valid_until=LAST_DAY)
    login(page, "zhao")

    # Its last day: allowed, with the expiry warning.
    run_check(page, clinic, procedure=PEEL, lot=False, at=f"{LAST_DAY.isoformat()}T10:00")
    verdict = result(page)
    expect(verdict.get_by_role("heading")).to_have_text(
        re.compile(r"核验结论:\s*!\s*" + re.escape("允许(有警示)") + "$")
    )
    expect(verdict.get_by_role("listitem").filter(has_text="AUTHORIZATION_EXPIRING")).to_be_visible()
    shot(page, "check-last-day-allowed")
    last_day_log = DecisionLog.objects.get(pk=shown_log_id(page))
    assert (last_day_log.outcome, last_day_log.reason_codes) == (
        "allow_with_warnings",
        ["AUTHORIZATION_EXPIRING"],
    )

    # Before the job the archive still says 生效, although the term has ended.
    page.goto(f"/authz/authorizations/{auth.pk}/")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"授权 #{auth.pk}")
    expect(heading).to_contain_text("生效")
    shot(page, "authorization-active-before-job")
    assert Authorization.objects.get(pk=auth.pk).status == "active"

    # The scheduler's daily run for the next day (cron: run_scheduler --once --date …).
    out = io.StringIO()
    call_command("run_scheduler", "--once", "--date", JOB_DAY.isoformat(), stdout=out)
    assert "enqueued expire_authorizations 2026-03-04" in out.getvalue(), out.getvalue()
    run = JobRun.objects.get(job="expire_authorizations", run_date=JOB_DAY)
    assert run.status == "succeeded", (run.status, run.error)

    page.reload()
    expect(heading).to_contain_text("到期")
    expect(page.get_by_text("期限届满").first).to_be_visible()
    shot(page, "authorization-expired")
    auth.refresh_from_db()
    assert (auth.status, auth.status_reason) == ("expired", "期限届满")
    entry = AuditEntry.objects.get(
        object_type="authz.authorization", object_id=str(auth.pk), action="authz.authorization.expired"
    )
    assert entry.actor_id is None and entry.reason == "期限届满"  # the system, not a person
    # The other authorizations (to 2030) are untouched.
    assert set(Authorization.objects.exclude(pk=auth.pk).values_list("status", flat=True)) == {"active"}

    # The day after: denied, with the expired reason naming the authorization.
    run_check(page, clinic, procedure=PEEL, lot=False, at=f"{JOB_DAY.isoformat()}T10:00")
    verdict = result(page)
    expect(verdict.get_by_role("heading")).to_have_text(re.compile(r"核验结论:\s*✗\s*不允许$"))
    reason = verdict.get_by_role("listitem").filter(has_text="AUTHORIZATION_EXPIRED")
    expect(reason).to_contain_text(f"#{auth.pk}")
    expect(reason).to_contain_text("禁止")
    shot(page, "check-next-day-denied")
    row = DecisionLog.objects.get(pk=shown_log_id(page))
    assert (row.outcome, row.reason_codes) == ("deny", ["AUTHORIZATION_EXPIRED"])

    # The holder's notice.
    switch_user(page, "li")
    inbox = page.get_by_role("link", name=re.compile(r"^通知"))
    expect(inbox).to_contain_text("1")
    inbox.click()
    expect(page.get_by_role("heading", name="通知", level=1)).to_be_visible()
    notice = page.get_by_role("listitem").filter(has_text="授权已到期失效")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("到期失效")
    expect(notice).to_contain_text("李医生")
    expect(notice).to_contain_text("期限届满")
    shot(page, "holder-notification")
    (note,) = Notification.objects.filter(recipient=clinic.world.users["li"], kind="expiry")
    assert note.url == f"/authz/authorizations/{auth.pk}/" and note.read_at is None
    assert Notification.objects.filter(recipient=clinic.world.users["zhao"], kind="expiry").count() == 1

    # 打开 marks it read and leads to the expired authorization.
    notice.get_by_role("button", name="打开").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"授权 #{auth.pk}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("到期")
    note.refresh_from_db()
    assert note.read_at is not None
