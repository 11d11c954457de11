"""Demo rows for the device file at 雅美门诊部: the 超声炮 CSP-2023-0112 with its acceptance, installation, a
passing inspection and a calibration by the maker's engineer; a second 热玛吉 FLX-2024-0033 whose intervals follow
the institution policy (30-day inspection) and whose inspection falls due in 4 days (the "due soon" row and
reminder). Idempotent: a device's file is written only while it has no records. Entries carry the demo label
(演示数据) as their actor."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from meiguard.core.access import DEMO_ACTOR, Actor
from meiguard.core.models import User
from meiguard.registry import actions as reg
from meiguard.registry.models import Device, Institution, Product

from . import actions
from .models import UpkeepRecord

YAMEI = "长沙雅美医疗美容门诊部"
ENGINEER: dict[str, Any] = {
    "performer": "engineer",
    "engineer_name": "周工",
    "engineer_company": "厂家售后服务部(演示)",
    "engineer_certificate_no": "FW-DEMO-0457",
}


def seed(stdout: Any) -> None:
    actor = Actor.system(DEMO_ACTOR)
    today = timezone.localdate()
    yamei = Institution.objects.filter(name=YAMEI).first()
    wu = User.objects.filter(username="wu").first()
    rf = Product.objects.filter(brand_name="热玛吉-FLX").first()
    csp = Device.objects.filter(institution=yamei, serial_no="CSP-2023-0112").first() if yamei else None
    if yamei is None or wu is None or rf is None or csp is None:
        stdout.write(
            "设备档案演示数据:缺少基础演示数据,已跳过 / equipment demo: base world missing, skipped\n"
        )
        return

    def on(n: int) -> dt.date:
        return today + dt.timedelta(days=n)

    staff: dict[str, Any] = {"performer": "staff", "performed_by_id": wu.pk}
    added: list[str] = []
    if not UpkeepRecord.objects.filter(device=csp).exists():
        actions.record_upkeep(
            actor, csp.pk, kind="acceptance", performed_on=on(-700), result="pass", **ENGINEER
        )
        actions.record_upkeep(
            actor, csp.pk, kind="installation", performed_on=on(-699), result="pass", **ENGINEER
        )
        actions.record_upkeep(
            actor, csp.pk, kind="calibration", performed_on=on(-60), result="pass", **ENGINEER
        )
        actions.record_upkeep(
            actor,
            csp.pk,
            kind="inspection",
            performed_on=on(-20),
            result="pass",
            findings="外观、电源线、探头完好;输出自检通过。",
            **staff,
        )
        added.append("CSP-2023-0112 档案")
    flx = Device.objects.filter(institution=yamei, serial_no="FLX-2024-0033").first()
    if flx is None:
        flx = reg.create_device(actor, institution_id=yamei.pk, product_id=rf.pk, serial_no="FLX-2024-0033")
    if not UpkeepRecord.objects.filter(device=flx).exists():
        actions.record_upkeep(
            actor, flx.pk, kind="acceptance", performed_on=on(-86), result="pass", **ENGINEER
        )
        actions.record_upkeep(
            actor, flx.pk, kind="calibration", performed_on=on(-26), result="pass", **ENGINEER
        )
        actions.record_upkeep(actor, flx.pk, kind="inspection", performed_on=on(-26), result="pass", **staff)
        added.append("FLX-2024-0033(巡检 4 天后到期)")
    if added:
        stdout.write("设备档案演示数据 / equipment demo: " + ", ".join(added) + "\n")
