"""Demo rows for reviews, on top of ``seed_demo``'s world: qian's association review of 雅美门诊部 for the
current quarter (2026-Q4 when written), with a checklist built from real decision-log rows and one open
finding (a warning to 李明).

To give the checklist something to find, it first records what a quarter at 雅美 looks like: CME credits for
some doctors, a 化学剥脱术 authorization of 王芳 that ends in 25 days and is still in use, and a few checks
that were denied for scope (李明 tries a filler injection) or validity (赵强's expired rhinoplasty
authorization, 孙伟's suspended one). Idempotent: once the campaign exists, nothing is added.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TextIO

from django.utils import timezone

from meiguard.authz import actions as authz
from meiguard.authz.models import Authorization
from meiguard.core.access import DEMO_ACTOR, Actor, build_actor
from meiguard.core.models import User
from meiguard.registry import actions as reg
from meiguard.registry.models import Institution, Practitioner, Qualification

from . import actions
from .choices import CampaignKind, FindingAction, ItemCategory, Severity
from .models import Campaign, ChecklistItem
from .periods import quarter_of

INSTITUTION = "长沙雅美医疗美容门诊部"
AUDITOR = "qian"


def seed(stdout: TextIO) -> None:
    inst = Institution.objects.filter(name=INSTITUTION).first()
    auditor = User.objects.filter(username=AUDITOR).first()
    if inst is None or auditor is None:
        stdout.write("reviews: 演示机构或审计员不存在,跳过 / base demo world missing, skipped\n")
        return
    today = timezone.localdate()
    quarter = quarter_of(today)
    if Campaign.objects.filter(
        institution=inst, period=quarter.label, kind=CampaignKind.ASSOCIATION
    ).exists():
        stdout.write("reviews: 演示审查已存在 / demo review already loaded\n")
        return
    system = Actor.system(DEMO_ACTOR)
    people = {p.name: p for p in Practitioner.objects.filter(main_institution=inst)}
    _credits(system, people, today.year)
    _quarter_of_checks(system, inst, people, today, quarter.start)

    qian = build_actor(auditor)
    campaign = actions.create_campaign(
        qian, institution_id=inst.pk, period=quarter.label, kind=CampaignKind.ASSOCIATION, today=today
    )
    denied = (
        ChecklistItem.objects.filter(campaign=campaign, category=ItemCategory.DENIED_DECISIONS)
        .filter(practitioner=people.get("李明"))
        .first()
    )
    actions.raise_finding(
        qian,
        campaign.pk,
        item_id=denied.pk if denied else None,
        practitioner_id=people["李明"].pk if "李明" in people else None,
        severity=Severity.MEDIUM,
        description="李明医师(美容外科主诊)多次尝试实施美容皮肤科填充物注射,无相应授权;"
        "请医务科重申授权范围,并在下次核验前完成说明。",
        action=FindingAction.WARN,
        today=today,
    )
    items = campaign.items.count()
    stdout.write(f"reviews: {inst.name} {quarter.label} 协会审查,检查项 {items} 项,问题 1 个(警示)\n")


def _credits(actor: Actor, people: dict[str, Practitioner], year: int) -> None:
    """This year's CME: 李明 and 王芳 complete, 赵强 short of Class II, the others none yet."""
    plan = {
        "李明": (("class_i", 10), ("class_ii", 16)),
        "王芳": (("class_i", 8), ("class_ii", 18)),
        "赵强": (("class_i", 6), ("class_ii", 8)),
    }
    for name, rows in plan.items():
        person = people.get(name)
        if (
            person is None
            or Qualification.objects.filter(practitioner=person, kind="cme_credits", year=year).exists()
        ):
            continue
        for credit_class, credits in rows:
            reg.create_qualification(
                actor,
                practitioner_id=person.pk,
                kind="cme_credits",
                credits=Decimal(credits),
                credit_class=credit_class,
                year=year,
                issuer="湖南省继续医学教育委员会",
            )


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _quarter_of_checks(
    actor: Actor, inst: Institution, people: dict[str, Practitioner], today: dt.date, start: dt.date
) -> None:
    def day(ago: int) -> dt.date:
        return max(start, today - dt.timedelta(days=ago))

    wangfang = people.get("王芳")
    if (
        wangfang is not None
        and not Authorization.objects.filter(
            practitioner=wangfang, institution=inst, procedure_code="derm-chemical-peel"
        ).exists()
    ):
        authz.create_authorization(
            actor,
            institution_id=inst.pk,
            data={
                "kind": "qualification",
                "practitioner_id": wangfang.pk,
                "procedure_code": "derm-chemical-peel",
                "valid_from": today - dt.timedelta(days=340),
                "valid_until": today + dt.timedelta(days=25),
                "grantor": inst.name,
            },
            activate=True,
        )
    attempts: list[tuple[str, str, int, int]] = [
        ("王芳", "derm-chemical-peel", 40, 10),  # allowed, on an authorization ending in 25 days
        ("王芳", "derm-chemical-peel", 12, 15),
        ("李明", "derm-filler-injection", 30, 11),  # no authorization for a dermatology filler
        ("李明", "derm-filler-injection", 9, 14),
        ("赵强", "surg-augmentation-rhinoplasty", 20, 9),  # his authorization expired a month ago
        ("孙伟", "surg-double-eyelid", 15, 16),  # suspended person, suspended authorization
    ]
    for name, code, ago, hour in attempts:
        person = people.get(name)
        if person is None:
            continue
        req: Any = authz.as_request(
            institution_id=inst.pk, practitioner_id=person.pk, procedure_code=code, at=_at(day(ago), hour)
        )
        authz.check(actor, req, channel="ui")
