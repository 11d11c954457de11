"""Complaint demo rows on the demo institution (长沙雅美医疗美容门诊部), idempotent, walked through the actions by
the demo logins: one handled on time (taken by 赵专员, answered, resolved and closed with the complainant's
satisfaction), one breaching both deadlines (taken by 张静 eight days ago and not yet answered), and one escalated
to 长沙市医疗美容协会 (钱审计 sees it). The clock job then runs once, so the breach notices are in the inbox.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from meiguard.core.access import build_actor
from meiguard.core.errors import ActionError
from meiguard.core.models import User
from meiguard.registry.models import Institution

from . import actions
from .models import Complaint

YAMEI = "长沙雅美医疗美容门诊部"


def seed(stdout: Any) -> None:
    yamei = Institution.objects.filter(name=YAMEI).first()
    users = {u.username: u for u in User.objects.filter(username__in=["zhao", "zhang"])}
    if yamei is None or len(users) < 2:
        stdout.write("投诉演示数据:缺少基础演示数据,已跳过 / complaints demo: base world missing, skipped\n")
        return
    if Complaint.objects.filter(institution=yamei).exists():
        return
    zhao, zhang = build_actor(users["zhao"]), build_actor(users["zhang"])
    now = timezone.now()
    base = {"institution_id": yamei.pk, "complainant_contact": "13800001234"}
    try:
        with transaction.atomic():
            ok = actions.receive(
                zhao,
                **base,
                channel="phone",
                category="service",
                complainant_name="演示·周女士",
                description="演示:预约后等候超过一小时,前台解释不清。",
                received_at=now - dt.timedelta(hours=3),
            )
            actions.acknowledge(zhao, ok.pk, note="已电话致歉并说明排班情况")
            actions.investigate(zhao, ok.pk)
            actions.add_note(zhao, ok.pk, note="核实当日排班:医生临时加台,未及时告知候诊求美者")
            actions.resolve_complaint(zhao, ok.pk, resolution="调整排班提醒流程,赠送一次复诊护理")
            actions.close(zhao, ok.pk, satisfaction=5)
            actions.receive(
                zhang,
                **base,
                channel="walk_in",
                category="price",
                complainant_name="演示·吴先生",
                description="演示:结账金额高于咨询时的报价。",
                received_at=now - dt.timedelta(days=8),
            )
            disputed = actions.receive(
                zhao,
                **base,
                channel="letter",
                category="outcome",
                complainant_name="演示·郑女士",
                description="演示:玻尿酸填充后两侧不对称,要求退款。",
                multi_department=True,
                received_at=now - dt.timedelta(hours=20),
            )
            actions.acknowledge(zhao, disputed.pk, note="已书面回复受理")
            actions.escalate(zhao, disputed.pk, reason="双方就退款金额协商未果,申请协会调解")
            actions.tick(now)
    except ActionError as exc:
        stdout.write(f"投诉演示数据:未能生成,已跳过 / complaints demo skipped: {exc.code} {exc}\n")
        return
    stdout.write("投诉演示数据:3 条投诉(按时办结、超时、已提交协会) / complaints demo added\n")
