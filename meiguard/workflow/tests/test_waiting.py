"""Approval steps left open are chased: approvers at 3 days, admins and compliance officers too from 7; each
(step, threshold) once, and after missed days only the largest threshold reached."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from meiguard.lifecycle import actions as lifecycle
from meiguard.notify.models import Notification
from meiguard.workflow.actions import remind_waiting_steps

from .conftest import HIGH, MEDIUM


def _opened(wf, days_ago: int):
    app = wf.submitted("li", procedure_code=MEDIUM)  # 医务科 → 授权专员
    step = wf.open_step(app)
    step.opened_at = timezone.now() - dt.timedelta(days=days_ago)
    step.save(update_fields=["opened_at"])
    return app, step


def _chased(step) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for n in Notification.objects.filter(dedupe_key__startswith=f"workflow:step:{step.pk}:waiting:"):
        out.setdefault(n.dedupe_key.rsplit(":", 1)[1], set()).add(n.recipient.username)
    return out


def test_nothing_before_three_days(wf):
    _app, step = _opened(wf, 2)
    assert remind_waiting_steps(timezone.localdate()) == 0
    assert _chased(step) == {}


def test_approvers_at_three_days_once(wf):
    _app, step = _opened(wf, 3)
    today = timezone.localdate()
    assert remind_waiting_steps(today) == 2  # both medical directors (zhou, ma)
    assert remind_waiting_steps(today) == 0  # a rerun sends nothing
    assert _chased(step) == {"3": {"zhou", "ma"}}
    note = Notification.objects.filter(dedupe_key=f"workflow:step:{step.pk}:waiting:3").first()
    assert note is not None and "审批已等待 3 天" in note.title and note.url.endswith("/act/")


def test_escalates_to_admins_from_seven_days_never_the_applicant(wf):
    _app, step = _opened(wf, 10)  # missed days: only the 7-day reminder goes out
    remind_waiting_steps(timezone.localdate())
    chased = _chased(step)
    assert set(chased) == {"7"}
    assert {"zhou", "ma", "wang", "zhao"} <= chased["7"]
    assert "li" not in chased["7"]  # the applicant is never chased about their own application


def test_committee_members_who_already_voted_are_not_chased(wf):
    wf.with_committee(quorum=2)  # zhou, zhao, wang, he
    app = wf.submitted("li", procedure_code=HIGH)
    app = wf.vote("ma", app)
    app = wf.vote("zhao", app)
    app = wf.vote("zhou", app)  # 1 of 2 on the committee
    step = wf.open_step(app)
    step.opened_at = timezone.now() - dt.timedelta(days=4)
    step.save(update_fields=["opened_at"])
    remind_waiting_steps(timezone.localdate())
    assert _chased(step) == {"3": {"zhao", "wang", "he"}}


def test_closed_steps_are_not_chased(wf):
    app, step = _opened(wf, 5)
    wf.vote("zhou", app)  # step 1 closes; step 2 opens now
    remind_waiting_steps(timezone.localdate())
    assert _chased(step) == {}


def test_the_scheduler_runs_it_daily(wf, django_capture_on_commit_callbacks):
    _app, step = _opened(wf, 3)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.enqueue_daily(
            lifecycle.SCHEDULER, on=timezone.localdate(), jobs=["remind_waiting_approvals"]
        )
    assert _chased(step) == {"3": {"zhou", "ma"}}
