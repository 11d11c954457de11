"""The demo world carries one device adverse event with a running report clock, one drug reaction already
reported on time, and one hazard reported by the nurse."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from meiguard.aftercare.demo import YAMEI
from meiguard.aftercare.models import Incident

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_running_clock_a_submitted_report_and_a_hazard(db):
    call_command("seed_demo", "--quiet")
    rows = list(Incident.objects.filter(institution__name=YAMEI).order_by("kind"))
    now = timezone.now()
    assert {(i.kind, i.report_state(now)) for i in rows} == {
        ("device_ae", "due"),
        ("drug_adr", "on_time"),
        ("hazard", "none"),
    }
    call_command("seed_demo", "--quiet")  # idempotent
    assert Incident.objects.filter(institution__name=YAMEI).count() == 3
