"""Aftercare demo rows on the demo institution (长沙雅美医疗美容门诊部), idempotent: two toxin cases walked through
the clinical actions by the demo logins (赵专员 files them, 李明 treats, 张静 assists), their follow-up plans
(made by the close hook), one contact overdue, and one mild reaction with the nurse's guidance; and three
incidents: a device adverse event whose 20-day report clock is running, a drug reaction already reported to the
regulator, and a hazard reported by the nurse.

The first case's plan is back-dated by two days after it is made (demo only), so one contact is overdue on the
day the demo is loaded. If the demo world cannot walk a case (a changed base world), nothing is added and the
reason is printed.
"""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from meiguard.clinical import actions as clinical
from meiguard.clinical.models import Case, Client
from meiguard.core.access import build_actor
from meiguard.core.errors import ActionError
from meiguard.core.models import User
from meiguard.demo.codes import id_number
from meiguard.registry.models import Device, Institution, Lot, Practitioner

from . import actions, incidents
from .models import AdverseReaction, FollowUp, Incident

YAMEI = "长沙雅美医疗美容门诊部"
PROCEDURE = "surg-botulinum-toxin-a-injection"
CLIENTS = (("演示·刘女士", id_number(9101)), ("演示·陈女士", id_number(9102)))
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
ANSWERS = {
    "hypertension": "none",
    "cardiac": "none",
    "coagulation": "normal",
    "expectation": "realistic",
    "allergy": "none",
    "previous_complication": "none",
    "local_skin": "normal",
    "pregnancy": "no",
}


def seed(stdout: Any) -> None:
    _seed_aftercare(stdout)
    _seed_incidents(stdout)


def _seed_aftercare(stdout: Any) -> None:
    yamei = Institution.objects.filter(name=YAMEI).first()
    users = {u.username: u for u in User.objects.filter(username__in=["zhao", "li", "zhang"])}
    doctor = Practitioner.objects.filter(name="李明", main_institution=yamei).first()
    nurse = Practitioner.objects.filter(name="张静", main_institution=yamei).first()
    lot = Lot.objects.filter(institution=yamei, lot_no="HL20260315").first()
    if yamei is None or len(users) < 3 or doctor is None or nurse is None or lot is None:
        stdout.write("随访演示数据:缺少基础演示数据,已跳过 / aftercare demo: base world missing, skipped\n")
        return
    if FollowUp.objects.filter(institution=yamei).exists():
        return
    zhao, li, zhang = (build_actor(users[n]) for n in ("zhao", "li", "zhang"))
    try:
        with transaction.atomic():
            if clinical.current_template(yamei.pk, PROCEDURE) is None:
                clinical.create_consent_template(
                    zhao,
                    institution_id=yamei.pk,
                    procedure_code=PROCEDURE,
                    title="A型肉毒毒素注射知情同意书",
                    body="治疗目的、方法与注意事项。",
                    risks="疼痛、淤青、感染、过敏,罕见血管栓塞。",
                    alternatives="不治疗;其他非手术方法。",
                )
            clinical.set_price(zhao, yamei.pk, procedure_code=PROCEDURE, price=Decimal("1800"))
            cases = [
                _treat(zhao, li, zhang, yamei, doctor, nurse, lot, name, number) for name, number in CLIENTS
            ]
            # Demo only: the first plan starts two days earlier, so its 24 h contact is overdue today.
            shift = dt.timedelta(days=2)
            for fu in FollowUp.objects.filter(case=cases[0]):
                FollowUp.objects.filter(pk=fu.pk).update(
                    due_at=fu.due_at - shift,
                    window_from=fu.window_from - shift if fu.window_from else None,
                )
            rx = actions.report_reaction(
                zhang, case_id=cases[1].pk, grade="mild", description="注射部位轻度红肿,无发热"
            )
            actions.record_step(zhang, rx.pk, kind="guidance", note="冷敷,避免按揉,48 小时内观察")
    except ActionError as exc:
        stdout.write(f"随访演示数据:未能生成病例,已跳过 / aftercare demo skipped: {exc.code} {exc}\n")
        return
    n = FollowUp.objects.filter(institution=yamei).count()
    m = AdverseReaction.objects.filter(institution=yamei).count()
    stdout.write(f"随访演示数据:{n} 条随访(1 条逾期)、{m} 条轻度不良反应 / aftercare demo added\n")


def _treat(
    zhao: Any, li: Any, zhang: Any, yamei: Any, doctor: Any, nurse: Any, lot: Any, name: str, number: str
) -> Case:
    client = Client.objects.filter(institution=yamei, name=name).first()
    if client is None:
        client = clinical.create_client(
            zhao,
            institution_id=yamei.pk,
            data={
                "name": name,
                "date_of_birth": dt.date(1990, 1, 1),
                "phone": "1390000" + number[-4:],
                "document_type": "resident_id",
                "id_number": number,
            },
        )
        clinical.grant_privacy_consent(
            zhao,
            client.pk,
            purpose="诊疗、术前评估与术后随访",
            scope=["health", "photos"],
            retention_years=30,
            notice_version="2026-1",
        )
    case = clinical.create_case(
        zhao, client_id=client.pk, procedure_code=PROCEDURE, operator_id=doctor.pk, nurse_id=nurse.pk
    )
    clinical.save_consultation(zhao, case.pk, needs="改善额纹", procedure_codes=[PROCEDURE])
    clinical.sign_consultation(li, case.pk)
    tpl = clinical.current_template(yamei.pk, PROCEDURE)
    assert tpl is not None
    clinical.sign_consent(
        zhang,
        case.pk,
        template_id=tpl.pk,
        content_hash=tpl.content_hash,
        decision="signed",
        signer_name=name,
        signature_image=PNG,
    )
    clinical.save_assessment(zhang, case.pk, answers=ANSWERS)
    clinical.sign_assessment(li, case.pk, role="chief")
    clinical.open_review(zhao, case.pk)
    clinical.confirm_review(li, case.pk, role="chief")
    clinical.confirm_review(zhang, case.pk, role="nurse")
    clinical.open_record(li, case.pk)
    clinical.add_usage(li, case.pk, usage_key="demo-1", lot_id=lot.pk, dose_value=Decimal(20), dose_unit="U")
    clinical.close_record(li, case.pk, notes="演示:治疗顺利")
    case.refresh_from_db()
    return case


def _seed_incidents(stdout: Any) -> None:
    """One device adverse event with a running clock, one drug reaction already reported to the regulator, one
    hazard reported by the nurse. Idempotent."""
    yamei = Institution.objects.filter(name=YAMEI).first()
    users = {u.username: u for u in User.objects.filter(username__in=["zhao", "li", "zhang"])}
    lot = Lot.objects.filter(institution=yamei, lot_no="HL20260315").first()
    device = Device.objects.filter(institution=yamei).select_related("product").first()
    if yamei is None or len(users) < 3 or lot is None:
        stdout.write(
            "不良事件演示数据:缺少基础演示数据,已跳过 / incident demo: base world missing, skipped\n"
        )
        return
    if Incident.objects.filter(institution=yamei).exists():
        return
    zhao, li, zhang = (build_actor(users[n]) for n in ("zhao", "li", "zhang"))
    now = timezone.now()
    try:
        with transaction.atomic():
            if device is not None:
                incidents.report_incident(
                    li,
                    institution_id=yamei.pk,
                    kind="device_ae",
                    grade="II",
                    severity="serious",
                    title="射频治疗后面颊二度烫伤",
                    description="治疗后次日复诊发现右侧面颊水疱,已处理;设备停用待厂家检查。",
                    discovered_at=now - dt.timedelta(days=2),
                    device_id=device.pk,
                )
            adr = incidents.report_incident(
                li,
                institution_id=yamei.pk,
                kind="drug_adr",
                grade="III",
                severity="other",
                title="注射后局部荨麻疹",
                description="注射后约 30 分钟出现局部荨麻疹,口服抗组胺药后缓解。",
                discovered_at=now - dt.timedelta(days=10),
                lot_id=lot.pk,
            )
            incidents.submit_report(
                zhao,
                adr.pk,
                submitted_at=now - dt.timedelta(days=3),
                channel="online",
                reference="ADR-DEMO-0001",
            )
            incidents.report_incident(
                zhang,
                institution_id=yamei.pk,
                kind="hazard",
                grade="IV",
                severity="",
                title="抢救车一支肾上腺素临近失效",
                description="每日巡查发现,已更换并登记。",
                discovered_at=now - dt.timedelta(hours=5),
            )
    except ActionError as exc:
        stdout.write(f"不良事件演示数据:未能生成,已跳过 / incident demo skipped: {exc.code} {exc}\n")
        return
    n = Incident.objects.filter(institution=yamei).count()
    stdout.write(f"不良事件演示数据:{n} 条(1 条计时中、1 条已上报、1 条隐患)/ incident demo added\n")
