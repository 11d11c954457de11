"""The demo seed for the impact report: a draft national revision whose report has rows in both directions."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from meiguard.authz.models import DecisionLog
from meiguard.rules import demo, impact
from meiguard.rules.models import RulePackVersion

pytestmark = pytest.mark.django_db


def test_the_demo_seed_is_idempotent_and_its_report_shows_both_directions():
    call_command("seed_demo", "--quiet", stdout=io.StringIO())
    out = io.StringIO()
    demo.seed(out)
    demo.seed(out)

    drafts = list(RulePackVersion.objects.filter(pack__code="cn-national", version__gt=1))
    assert [(v.version, v.status) for v in drafts] == [(2, "draft")]
    assert "150U" in drafts[0].description
    assert DecisionLog.objects.filter(actor_label=demo.MARKER).count() == 3
    assert "/impact/" in out.getvalue()

    report = impact.assess(drafts[0])
    found = {(r.practitioner_name, r.procedure_code, r.direction) for r in report.rows}
    assert ("李明", "surg-augmentation-rhinoplasty", impact.Direction.TIGHTER) in found
    assert ("王芳", "derm-botulinum-toxin-injection", impact.Direction.TIGHTER) in found
    assert ("王芳", "derm-filler-injection", impact.Direction.LOOSER) in found
