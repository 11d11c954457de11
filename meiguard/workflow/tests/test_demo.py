"""The demo rows: a committee at 雅美, an approved low-risk and a pending high-risk application; idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from meiguard.authz import actions as authz_actions
from meiguard.core.access import build_actor
from meiguard.core.models import User
from meiguard.workflow import demo, preview, queries
from meiguard.workflow.models import Application, ApprovalVote, Evidence, ExpertCommittee


@pytest.fixture
def seeded(db, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # the engine's cache is bumped on commit
        call_command("seed_demo", "--quiet", stdout=out)  # seed_demo runs this app's seed
        demo.seed(io.StringIO())  # a rerun adds nothing
    return out.getvalue()


def _actor(username: str):
    return build_actor(User.objects.get(username=username))


def test_demo_rows(seeded):
    committee = ExpertCommittee.objects.get(institution__name=demo.YAMEI)
    assert committee.quorum == 2
    assert sorted(committee.members.values_list("username", flat=True)) == ["wang", "zhao", "zhou"]

    low = Application.objects.get(procedure_code=demo.LOW_CODE)
    assert (low.status, low.risk_level) == ("approved", "low")
    assert low.authorization.status == "active"
    checked = authz_actions.check(
        _actor("li"),
        authz_actions.as_request(
            institution_id=low.institution_id,
            practitioner_id=low.practitioner_id,
            procedure_code=demo.LOW_CODE,
        ),
    )
    assert checked.decision.allowed, checked.decision.codes()

    high = Application.objects.get(product_brand=demo.HIGH_BRAND)
    assert (high.status, high.risk_level) == ("in_review", "high")
    assert [s.stage for s in queries.pending_for(_actor("wang"))] == ["expert_committee"]
    assert queries.pending_for(_actor("zhao")).filter(application=high).exists()
    assert not queries.pending_for(_actor("zhou")).filter(application=high).exists()  # already voted
    gaps = {g.code for g in preview.build(_actor("li"), high).gaps}
    assert "TRAINING_CERTIFICATE_MISSING" in gaps

    medium = Application.objects.get(procedure_code=demo.MEDIUM_CODE)
    assert (medium.status, medium.on_behalf, medium.risk_level) == ("in_review", True, "medium")
    assert queries.pending_for(_actor("zhou")).filter(application=medium).exists()
    assert Evidence.objects.filter(application=high, file__endswith=".pdf").count() == 2
    assert "workflow demo" in seeded


def test_demo_is_idempotent(seeded):
    counts = (Application.objects.count(), ApprovalVote.objects.count(), Evidence.objects.count())
    again = io.StringIO()
    demo.seed(again)
    assert (Application.objects.count(), ApprovalVote.objects.count(), Evidence.objects.count()) == counts
    assert again.getvalue() == ""


def test_demo_skips_without_the_base_world(db):
    out = io.StringIO()
    demo.seed(out)
    assert "skipped" in out.getvalue() and not Application.objects.exists()
