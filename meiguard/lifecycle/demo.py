"""Demo rows for lifecycle: items at 雅美门诊部 expiring in about 7, 30, 60 and 90 days, and today's reminders.

Idempotent: each row is looked up by a fixed marker first, and reminders are sent once by the ledger. Dates are
relative to the day of the first run, like the base demo world (which already has 赵强's licence expiring in
20 days and an expired lot of 润百颜 still on the shelf).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from meiguard.authz import actions as authz
from meiguard.authz.models import Authorization
from meiguard.core.access import DEMO_ACTOR, Actor
from meiguard.registry import actions as reg
from meiguard.registry.models import Institution, Lot, Practitioner, Product, Qualification

from . import actions

YAMEI = "长沙雅美医疗美容门诊部"
LOT_NO = "RBY2026D07"  # 7 days
PEEL = "derm-chemical-peel"  # 王芳's authorization, about 60 days
TRAINING_NO = "PX-CSP-DEMO"  # 王芳's 超声炮 training certificate, about 90 days


def seed(stdout: Any) -> None:
    actor = Actor.system(DEMO_ACTOR)
    today = timezone.localdate()
    yamei = Institution.objects.filter(name=YAMEI).first()
    wangfang = Practitioner.objects.filter(name="王芳", main_institution=yamei).first()
    rby = Product.objects.filter(brand_name="润百颜").first()
    if yamei is None or wangfang is None or rby is None:
        stdout.write(
            "到期提醒演示数据:缺少基础演示数据,已跳过 / lifecycle demo: base world missing, skipped\n"
        )
        return
    added: list[str] = []

    def on(n: int) -> dt.date:
        return today + dt.timedelta(days=n)

    if not Lot.objects.filter(institution=yamei, product=rby, lot_no=LOT_NO).exists():
        reg.create_lot(
            actor,
            institution_id=yamei.pk,
            product_id=rby.pk,
            lot_no=LOT_NO,
            production_date=on(-720),
            expiry_date=on(6),
            unit="piece",
        )
        added.append(f"批次 {LOT_NO}(7 天内)")
    if not Authorization.objects.filter(
        institution=yamei, practitioner=wangfang, procedure_code=PEEL
    ).exists():
        authz.create_authorization(
            actor,
            institution_id=yamei.pk,
            data={
                "kind": "qualification",
                "practitioner_id": wangfang.pk,
                "procedure_code": PEEL,
                "valid_from": on(-300),
                "valid_until": on(55),
                "grantor": yamei.name,
            },
            activate=True,
        )
        added.append("王芳 化学剥脱术授权(60 天内)")
    if not Qualification.objects.filter(practitioner=wangfang, number=TRAINING_NO).exists():
        reg.create_qualification(
            actor,
            practitioner_id=wangfang.pk,
            kind="training_certificate",
            product_reference="超声炮",
            issuer="半岛医疗培训中心",
            number=TRAINING_NO,
            valid_from=on(-640),
            valid_until=on(88),
        )
        added.append("王芳 超声炮培训证书(90 天内)")

    # Today's reminders and expired-lot notices, sent now so the inboxes are not empty (each once, ever).
    sent = actions.scan_expiries(today, inline=True)
    flagged = actions.flag_expired_lots(today)
    stdout.write(
        "到期提醒演示数据 / lifecycle demo: "
        + ("、".join(added) if added else "已存在 / already there")
        + f";提醒 {sent.get('notified', 0)} 条,过期批次通知 {flagged['notified']} 条\n"
    )
