"""Closing a case creates its follow-up plan in the same transaction, from the institution policy's schedule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.aftercare.models import FollowUp
from meiguard.audit.models import AuditEntry
from meiguard.clinical import actions as clinical
from meiguard.core.errors import ActionError
from meiguard.rules import institution as policy_settings

from .conftest import BREAST, T0, TOXIN, treat

pytestmark = pytest.mark.django_db


def _plan(case):
    return [
        (f.kind, f.offset, timezone.localtime(f.due_at), f.assignee_id)
        for f in FollowUp.objects.filter(case=case).order_by("kind", "sequence")
    ]


def test_a_non_surgical_case_gets_24h_1w_1m_and_the_two_evaluations(clin, clock):
    case = treat(clin, TOXIN)
    t = timezone.localtime(T0)
    nurse, doctor = clin.nurse.pk, clin.clinic.li.pk
    assert _plan(case) == [
        ("contact", "24h", t + dt.timedelta(hours=24), nurse),
        ("contact", "1w", t + dt.timedelta(weeks=1), nurse),
        ("contact", "1m", t.replace(month=12, year=2026) + dt.timedelta(days=31), nurse),
        ("evaluation_long", "6m", t.replace(year=2027, month=6), doctor),
        ("evaluation_short", "3m", t.replace(year=2027, month=3), doctor),
    ]
    fu = FollowUp.objects.get(case=case, offset="24h")
    assert fu.rule_id == "INST.follow-up-non-surgical"
    assert "机构规范" in fu.source and "工作计划" in fu.source and "seed" not in fu.source.lower()
    short = FollowUp.objects.get(case=case, kind="evaluation_short")
    assert timezone.localtime(short.window_from) == t.replace(year=2027, month=1)
    assert "运营流程制度" in short.source
    assert AuditEntry.objects.filter(action="aftercare.plan.created").count() == 1


def test_a_surgical_case_gets_3d_7d_1m_3m(clin, clock):
    case = treat(clin, BREAST)
    t = timezone.localtime(T0)
    contacts = [(o, d) for k, o, d, _a in _plan(case) if k == "contact"]
    assert contacts == [
        ("3d", t + dt.timedelta(days=3)),
        ("7d", t + dt.timedelta(days=7)),
        ("1m", t.replace(year=2027, month=1)),
        ("3m", t.replace(year=2027, month=3)),
    ]
    assert FollowUp.objects.get(case=case, offset="3d").rule_id == "INST.follow-up-surgical"


def test_the_institution_policy_schedule_is_used(clin, clock):
    zhao = clin.actor("zhao")
    policy_settings.save_draft(zhao, clin.clinic.jia.pk, values={"follow_up_non_surgical": "12h, 2d"})
    version = policy_settings.versions(clin.clinic.jia.pk)[0]
    policy_settings.publish(zhao, clin.clinic.jia.pk, version.version, effective_from=timezone.localdate())
    case = treat(clin, TOXIN)
    assert [o for k, o, _d, _a in _plan(case) if k == "contact"] == ["12h", "2d"]
    assert "本机构规范" in FollowUp.objects.filter(case=case, kind="contact").first().source


def test_a_failed_close_creates_no_plan(clin, clock):
    case = clin.ready(BREAST)
    clinical.open_record(clin.actor("zhou"), case.pk)
    with pytest.raises(ActionError):
        clinical.close_record(clin.actor("zhou"), case.pk)  # node 3 missing
    assert not FollowUp.objects.filter(case=case).exists()
