"""run_scheduler: the one entry point. --once enqueues a date's jobs once; runs are recorded in JobRun."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.lifecycle import actions
from meiguard.lifecycle.management.commands.run_scheduler import Command, next_wakeup
from meiguard.lifecycle.models import JobRun, Reminder

from .conftest import ON, days, expire_licence_in, new_lot

pytestmark = pytest.mark.django_db
JOBS = [
    "expire_authorizations",
    "flag_expired_lots",
    "scan_expiries",
    "announce_rule_versions",
    "remind_waiting_approvals",
    "audit_checkpoint",
    "remind_due_checklists",
    "remind_device_upkeep",
    "aftercare_clocks",
    "reconcile_high_risk",
    "monthly_compliance_report",
]


def once(capture, *args):
    out = StringIO()
    with capture(execute=True):
        call_command("run_scheduler", "--once", *args, stdout=out)
    return out.getvalue()


def test_once_enqueues_the_daily_jobs_and_records_the_runs(c, django_capture_on_commit_callbacks):
    expire_licence_in(c, 30)
    new_lot(c, days(-1))
    out = once(django_capture_on_commit_callbacks, "--date", ON.isoformat())
    for job in JOBS:
        assert f"enqueued {job} 2026-03-03" in out
    runs = {r.job: r for r in JobRun.objects.all()}
    assert set(runs) == set(JOBS)
    assert all(r.status == "succeeded" and r.started_at and r.finished_at for r in runs.values())
    assert runs["scan_expiries"].counts == {"expiring": 1, "due": 1, "already_sent": 0}
    assert runs["flag_expired_lots"].counts == {
        "expired_lots": 1,
        "notified": 1,
        "overdue_recalls": 0,
        "recall_reminders": 0,
    }
    assert runs["expire_authorizations"].counts == {"expired": 0}
    assert Reminder.objects.count() == 2
    actions_logged = list(
        AuditEntry.objects.filter(action__startswith="lifecycle.jobrun").values_list("action", flat=True)
    )
    assert actions_logged.count("lifecycle.jobrun.enqueued") == len(JOBS)
    assert actions_logged.count("lifecycle.jobrun.finished") == len(JOBS)


def test_a_completed_date_is_a_no_op_unless_forced(c, django_capture_on_commit_callbacks):
    expire_licence_in(c, 30)
    once(django_capture_on_commit_callbacks, "--date", ON.isoformat())
    out = once(django_capture_on_commit_callbacks, "--date", ON.isoformat())
    assert out.count("skipped") == len(JOBS) and "already succeeded" in out and "enqueued" not in out
    assert JobRun.objects.count() == len(JOBS)
    forced = once(django_capture_on_commit_callbacks, "--date", ON.isoformat(), "--force")
    assert forced.count("enqueued") == len(JOBS) and "attempt 2" in forced
    assert JobRun.objects.filter(attempt=2, forced=True, status="succeeded").count() == len(JOBS)
    assert Reminder.objects.count() == 1  # the forced rerun found the reminder already sent
    assert JobRun.objects.get(job="scan_expiries", attempt=2).counts["already_sent"] == 1


def test_a_failed_job_is_recorded_and_tried_again_next_time(
    c, monkeypatch, django_capture_on_commit_callbacks
):
    def boom(on):
        raise RuntimeError("数据库暂不可用")

    monkeypatch.setitem(actions.JOB_BODIES, "scan_expiries", boom)
    once(django_capture_on_commit_callbacks, "--date", ON.isoformat())
    failed = JobRun.objects.get(job="scan_expiries")
    assert failed.status == "failed" and "数据库暂不可用" in failed.error and failed.finished_at
    assert AuditEntry.objects.filter(action="lifecycle.jobrun.failed").count() == 1
    monkeypatch.undo()
    out = once(django_capture_on_commit_callbacks, "--date", ON.isoformat())
    assert "enqueued scan_expiries" in out and out.count("skipped") == len(JOBS) - 1
    assert JobRun.objects.get(job="scan_expiries", attempt=2).status == "succeeded"


def test_a_task_delivered_twice_runs_once(c):
    run = JobRun.objects.create(job="scan_expiries", run_date=ON)
    assert actions.run_job("scan_expiries", ON.isoformat(), run.pk) == {
        "expiring": 0,
        "due": 0,
        "already_sent": 0,
    }
    assert actions.run_job("scan_expiries", ON.isoformat(), run.pk) == {"skipped": 1}
    run.refresh_from_db()
    assert run.status == "succeeded"


def test_a_queued_run_is_not_enqueued_again(c):
    JobRun.objects.create(job="scan_expiries", run_date=ON)  # the worker has not picked it up yet
    planned = {p.job: p for p in actions.enqueue_daily(actions.SCHEDULER, on=ON, jobs=["scan_expiries"])}
    assert planned["scan_expiries"].enqueued is False


def test_once_defaults_to_today(c, django_capture_on_commit_callbacks):
    out = once(django_capture_on_commit_callbacks)
    assert f"enqueued scan_expiries {timezone.localdate().isoformat()}" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--once", "--date", "2026-02-30"], "--date must be YYYY-MM-DD"),
        (["--date", "2026-03-03"], "--date needs --once"),
    ],
)
def test_bad_arguments_are_refused(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("run_scheduler", *args)
    assert JobRun.objects.count() == 0


def test_bad_daily_time_setting_is_refused(db, settings):
    settings.SCHEDULER_DAILY_AT = "1am"
    with pytest.raises(CommandError, match="SCHEDULER_DAILY_AT"):
        call_command("run_scheduler", "--once")


def aware(*args):
    return timezone.make_aware(dt.datetime(*args))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (aware(2026, 3, 3, 0, 30), aware(2026, 3, 3, 1, 0)),
        (aware(2026, 3, 3, 1, 0), aware(2026, 3, 4, 1, 0)),
        (aware(2026, 3, 3, 23, 59), aware(2026, 3, 4, 1, 0)),
        (aware(2026, 12, 31, 2, 0), aware(2027, 1, 1, 1, 0)),
    ],
)
def test_next_wakeup_is_the_next_daily_time(now, expected):
    assert next_wakeup(now, dt.time(1, 0)) == expected


def test_the_loop_catches_up_today_then_wakes_at_the_daily_time(c, django_capture_on_commit_callbacks):
    clock = [aware(2026, 3, 3, 9, 0)]  # started after 01:00: today's jobs are enqueued at once

    def now():
        return clock[0]

    def sleep(seconds):
        clock[0] += dt.timedelta(seconds=seconds)

    out = StringIO()
    cmd = Command(stdout=out)
    with django_capture_on_commit_callbacks(execute=True):
        cmd.loop(dt.time(1, 0), now=now, sleep=sleep, cycles=2)
    dates = sorted({str(d) for d in JobRun.objects.values_list("run_date", flat=True)})
    assert dates == ["2026-03-03", "2026-03-04", "2026-03-05"]
    assert JobRun.objects.filter(status="succeeded").count() == 3 * len(JOBS)
    assert clock[0] == aware(2026, 3, 5, 1, 0)
    assert "sleeping until 2026-03-04 01:00" in out.getvalue()
