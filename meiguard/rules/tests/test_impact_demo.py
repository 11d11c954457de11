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
    assert "隆鼻术" in drafts[0].description
    assert DecisionLog.objects.filter(actor_label=demo.MARKER).count() == 3
    assert "/impact/" in out.getvalue()

    report = impact.assess(drafts[0])
    found = {(r.practitioner_name, r.procedure_code, r.direction) for r in report.rows}
    assert ("李明", "surg-augmentation-rhinoplasty", impact.Direction.TIGHTER) in found

    # Every demo institution has adopted the template; 雅美's draft v2 changes two of its own values.
    from meiguard.registry.models import Institution
    from meiguard.rules import institution

    for inst in Institution.objects.all():
        assert institution.versions(inst.pk)[-1].is_published
    yamei = Institution.objects.get(name=demo.YAMEI)
    policy_drafts = [v for v in institution.versions(yamei.pk) if not v.is_published]
    assert [v.version for v in policy_drafts] == [2]
    report = impact.assess(policy_drafts[0], on=policy_drafts[0].effective_from)
    found = {(r.practitioner_name, r.procedure_code, r.direction) for r in report.rows}
    assert ("王芳", "derm-botulinum-toxin-injection", impact.Direction.TIGHTER) in found
    assert ("王芳", "derm-filler-injection", impact.Direction.LOOSER) in found
    assert {r.institution_id for r in report.rows} == {yamei.pk}
