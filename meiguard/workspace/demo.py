"""Demo rows for the workspace, on top of ``seed_demo``'s world:

- 李明 (login ``li``) gets this year's CME credits if none are recorded yet (the reviews demo may already have
  added a complete set): Class I 6, Class II 8 verified plus 4 awaiting verification, so his dashboard shows
  18 of PR-08's 25 with Class II short;
- twelve weeks of point-of-care checks at 雅美门诊部, asked by 赵专员 (``zhao``) at the front desk: mostly
  allowed (李明's and 赵强's eyelid and ear surgery), some denied (孙伟 is suspended, 周杰 without his supervisor,
  赵强 after his rhinoplasty authorization expired), so the weekly chart and the "denied this week" panel
  have something to show.

Idempotent: the credits are looked up first, the checks carry a fixed request id. Dates are relative to the
day of the run; every check is decided by the real engine on the real data (nothing is typed in as an outcome).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from meiguard.authz import actions as authz
from meiguard.authz.choices import DecisionChannel
from meiguard.authz.facts import CHINA_TZ, DecisionRequest
from meiguard.authz.models import DecisionLog
from meiguard.core import context
from meiguard.core.access import DEMO_ACTOR, Actor, build_actor
from meiguard.core.models import User
from meiguard.registry import actions as reg
from meiguard.registry.models import Institution, Practitioner, Qualification

YAMEI = "长沙雅美医疗美容门诊部"
MARKER = "demo-workspace"
WEEKS = 12
# (practitioner, procedure): asked every week; the engine decides.
ALLOWED = (
    ("李明", "surg-double-eyelid"),
    ("李明", "surg-augmentation-rhinoplasty"),
    ("赵强", "surg-double-eyelid"),  # allowed; with a warning once his licence is within its last weeks
    ("李明", "surg-prominent-ear-correction"),
)
DENIED = (
    ("孙伟", "surg-double-eyelid"),  # suspended pending an investigation
    ("周杰", "derm-botulinum-toxin-injection"),  # not a 主诊; no supervisor named
    ("赵强", "surg-augmentation-rhinoplasty"),  # authorization expired 30 days ago
)
CREDITS = (("6", "class_i", True), ("8", "class_ii", True), ("4", "class_ii", False))


def seed(stdout: Any) -> None:
    system = Actor.system(DEMO_ACTOR)
    today = timezone.localdate()
    yamei = Institution.objects.filter(name=YAMEI).first()
    people = {p.name: p for p in Practitioner.objects.filter(main_institution=yamei)} if yamei else {}
    if yamei is None or "李明" not in people:
        stdout.write("工作台演示数据:缺少基础演示数据,已跳过 / workspace demo: base world missing, skipped\n")
        return
    added: list[str] = []
    li = people["李明"]
    if not Qualification.objects.filter(practitioner=li, kind="cme_credits", year=today.year).exists():
        for credits, credit_class, verified in CREDITS:
            q = reg.create_qualification(
                system,
                practitioner_id=li.pk,
                kind="cme_credits",
                credits=Decimal(credits),
                credit_class=credit_class,
                year=today.year,
                issuer="湖南省继续医学教育委员会",
                number=f"CME{today.year}-{credit_class}-{credits}",
            )
            if verified:
                reg.verify_qualification(system, q.pk, status="verified", note="学分证明已核对")
        added.append("李明本年度继续医学教育学分 18 分")
    if not DecisionLog.objects.filter(request_id=MARKER).exists():
        n = _checks(yamei, people, today)
        added.append(f"近 {WEEKS} 周核验记录 {n} 条")
    if added:
        stdout.write("工作台演示数据 / workspace demo: " + ";".join(added) + "\n")


def _asker() -> Actor:
    user = User.objects.filter(username="zhao").first()
    return build_actor(user) if user is not None else Actor.system(DEMO_ACTOR)


def _checks(yamei: Institution, people: dict[str, Practitioner], today: dt.date) -> int:
    now = timezone.now()
    monday = today - dt.timedelta(days=today.weekday())
    reqs: list[DecisionRequest] = []
    for week in range(WEEKS):
        start = monday - dt.timedelta(weeks=WEEKS - 1 - week)
        allowed = 3 + (week * 5) % 4  # 3–6 a week
        denied = (2 if week % 3 == 0 else 1) if week % 2 == 0 or week == WEEKS - 1 else 0
        plan = [ALLOWED[i % len(ALLOWED)] for i in range(allowed)]
        plan += [DENIED[(week + i) % len(DENIED)] for i in range(denied)]
        for i, (name, code) in enumerate(plan):
            person = people.get(name)
            if person is None:
                continue
            day = start + dt.timedelta(days=(i * 2) % 6)
            at = dt.datetime.combine(day, dt.time(9 + (i * 3) % 8, 10 * (i % 6)), tzinfo=CHINA_TZ)
            if at > now:  # this week: only what has happened so far
                at = now - dt.timedelta(minutes=30 * (i + 1))
            reqs.append(
                authz.as_request(
                    institution_id=yamei.pk, practitioner_id=person.pk, procedure_code=code, at=at
                )
            )
    token = context.set_current(context.RequestContext(request_id=MARKER))
    try:
        items = authz.check_batch(_asker(), list(reqs), channel=DecisionChannel.UI)
    finally:
        context.reset(token)
    return sum(1 for item in items if item.checked is not None)
