"""Compliance-report demo rows: the previous three months' reports of the demo institution (长沙雅美医疗美容门诊部),
as the monthly job would have stored them, so the page shows last month's figures and a trend. Idempotent: a
month that already has a report is left alone. Runs after the aftercare demo (its cases and reactions count)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from meiguard.core.access import DEMO_ACTOR, Actor
from meiguard.registry.models import Institution

from . import actions, policy
from .choices import Trigger
from .models import MonthlyReport

YAMEI = "长沙雅美医疗美容门诊部"


def seed(stdout: Any) -> None:
    yamei = Institution.objects.filter(name=YAMEI).first()
    if yamei is None:
        stdout.write(
            "月度合规报告演示数据:缺少演示机构,已跳过 / compliance demo: institution missing, skipped\n"
        )
        return
    last = policy.previous_month(timezone.localdate())
    actor = Actor.system(DEMO_ACTOR)
    for back in (2, 1, 0):
        month = policy.add_months(last, -back)
        if MonthlyReport.objects.filter(institution=yamei, month=month).exists():
            continue
        with transaction.atomic():
            actions.generate_for(actor, [yamei], month, trigger=Trigger.SCHEDULED, at=timezone.now())
