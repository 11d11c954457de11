"""The workspace demo rows: added on top of seed_demo, decided by the real engine, and added only once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from meiguard.authz.models import DecisionLog
from meiguard.core.access import build_actor
from meiguard.core.models import User
from meiguard.registry.models import Qualification
from meiguard.workspace import demo, queries

pytestmark = pytest.mark.django_db


def test_the_demo_fills_the_dashboards_once():
    call_command("seed_demo", "--quiet", stdout=io.StringIO())
    out = io.StringIO()
    demo.seed(out)
    rows = DecisionLog.objects.filter(request_id=demo.MARKER)
    li_credits = Qualification.objects.filter(kind="cme_credits", practitioner__user__username="li")
    first = (rows.count(), li_credits.count(), DecisionLog.objects.count())
    assert first[0] > 40 and first[1] >= 2  # ours, or the reviews demo's if it ran first
    outcomes = set(rows.values_list("outcome", flat=True))
    assert "deny" in outcomes and ({"allow", "allow_with_warnings"} & outcomes)
    assert set(rows.values_list("actor_label", flat=True)) == {"zhao"}
    demo.seed(out)  # a second run adds nothing
    assert (rows.count(), li_credits.count(), DecisionLog.objects.count()) == first

    now = timezone.now()
    li = build_actor(User.objects.get(username="li"))
    cme = queries.build_panel(queries.Board(li, now), "cme").data
    assert cme.earned == sum(q.credits for q in li_credits) and cme.required == 25
    zhao = build_actor(User.objects.get(username="zhao"))
    weeks = queries.decisions_per_week(zhao, timezone.localdate())
    assert sum(w.allowed for w in weeks) > 0 and sum(w.denied for w in weeks) > 0
    assert sum(w.total for w in weeks) >= first[0]
    assert queries.build_panel(queries.Board(zhao, now), "denied").data.count > 0
    # the other institution's admin sees none of 雅美's checks
    sun = build_actor(User.objects.get(username="sun"))
    assert not DecisionLog.objects.visible_to(sun).filter(request_id=demo.MARKER).exists()


def test_without_the_base_world_it_says_so_and_adds_nothing():
    out = io.StringIO()
    demo.seed(out)
    assert "skipped" in out.getvalue() and not DecisionLog.objects.exists()
