"""待我审批 (issue 16 item 3): waiting time and overdue marks, evidence first, and batch approve / return where
each step is still its own audited act with separation of duties."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.workflow import actions
from meiguard.workflow.models import ApprovalStep, ApprovalVote

from .conftest import MEDIUM, pdf


def _two(wf, evidence: bool = False):
    a = wf.submitted("li", procedure_code=MEDIUM)
    b = wf.draft("li", procedure_code="derm-chemical-peel")
    if evidence:
        actions.add_evidence(wf.actor("li"), b.pk, kind="training", file=pdf("培训证明.pdf"), note="")
    b = actions.submit(wf.actor("li"), b.pk)
    old = wf.open_step(a)
    old.opened_at = timezone.now() - dt.timedelta(days=8)
    old.save(update_fields=["opened_at"])
    return a, b


def test_the_inbox_shows_waiting_time_overdue_marks_and_evidence(wf):
    a, b = _two(wf, evidence=True)
    html = wf.client("zhou").get("/applications/inbox/").content.decode()
    step_a, step_b = wf.open_step(a), wf.open_step(b)
    assert html.index(f'data-step="{step_a.pk}"') < html.index(f'data-step="{step_b.pk}"')  # longest first
    assert f'data-step="{step_a.pk}" data-overdue="7"' in html
    assert "逾期 ≥7 天" in html
    assert f'data-step="{step_b.pk}">' in html  # not overdue
    assert f"/applications/{b.pk}/evidence/" in html
    assert "无材料" in html  # a has none


def test_batch_approve_is_one_act_per_step(wf):
    a, b = _two(wf)
    steps = [wf.open_step(a).pk, wf.open_step(b).pk]
    voted = AuditEntry.objects.filter(action="workflow.approvalstep.voted")
    assert not voted.exists()
    r = wf.client("zhou").post(
        "/applications/inbox/", {"steps": steps, "verdict": "approve", "comment": "材料齐全"}
    )
    assert r.status_code == 302
    for pk in steps:
        step = ApprovalStep.objects.get(pk=pk)
        assert step.status == "approved"
        vote = ApprovalVote.objects.get(step=step)
        assert (vote.user.username, vote.verdict, vote.comment) == ("zhou", "approve", "材料齐全")
    assert sorted(int(e.object_id) for e in voted) == sorted(steps)  # one audit entry per step
    assert {e.actor.username for e in voted} == {"zhou"}


def test_batch_return_needs_a_comment_and_writes_nothing_without(wf):
    a, b = _two(wf)
    steps = [wf.open_step(a).pk, wf.open_step(b).pk]
    r = wf.client("zhou").post("/applications/inbox/", {"steps": steps, "verdict": "return", "comment": ""})
    assert r.status_code == 302  # each act refused on its own; shown as messages
    assert ApprovalStep.objects.filter(pk__in=steps, status="open").count() == 2
    assert not ApprovalVote.objects.filter(step_id__in=steps).exists()
    r = wf.client("zhou").post(
        "/applications/inbox/", {"steps": steps, "verdict": "return", "comment": "请补充培训证明"}
    )
    assert ApprovalStep.objects.filter(pk__in=steps, status="returned").count() == 2


def test_batch_cannot_reach_steps_outside_the_inbox(wf):
    a, _b = _two(wf)
    step = wf.open_step(a)
    # li is the applicant: the step is not in his inbox (separation of duties), so it is not a valid choice.
    r = wf.client("li").post("/applications/inbox/", {"steps": [step.pk], "verdict": "approve"})
    assert r.status_code == 422
    step.refresh_from_db()
    assert step.status == "open"
    assert (
        wf.client("zhou").post("/applications/inbox/", {"steps": ["x"], "verdict": "approve"}).status_code
        == 422
    )
