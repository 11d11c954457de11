"""演示数据 for the treatment case, on top of ``seed_demo``'s base world (issue 12).

At 长沙雅美医疗美容门诊部:

* published prices (明码标价) and a consent template for each procedure the demo uses;
* three clients, each with the PIPL separate consent (health data, photos, ID document): 陈女士, 刘女士 and
  杨先生 (no case yet);
* 陈女士's grade-1 injection case (A型肉毒毒素美容注射术, 李明, nurse 张静) walked through every step and closed:
  consultation signed by the doctor, consent signed, assessment passed and signed, review confirmed by
  主诊 and nurse, the record opened through the gate and 40 U of the 衡力 lot HL20260315 recorded;
* 刘女士's case at the consultation step (a nurse prepared it, the doctor has not signed).

At 湘江整形美容医院 (a cosmetic hospital, 麻醉科 set up — grade 3 allowed):

* logins ``huang`` (黄涛, 美容外科主诊, with the hospital's surgical-grading authorization for 美容外科 up to
  grade 3) and ``fang`` (方宁, anaesthetist), password as every demo login;
* the hospital's 医疗质量与安全管理委员会 (孙院长, 黄涛, 方宁; 2 of 3);
* 林女士's grade-3 case (全颜面及颌颈部除皱术 under general anaesthesia): consultation, consent and
  assessment signed by surgeon and anaesthetist, the committee review opened with the department's
  discussion recorded — waiting for the committee's votes.

Everything goes through the clinical, registry, authz and workflow actions (validated, audited). Idempotent:
each client, case and step is looked up first, so a rerun adds only what is missing. Names and numbers are
invented; every client file says 演示数据.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from meiguard.authz import actions as authz
from meiguard.authz.models import Authorization
from meiguard.core import actions as core
from meiguard.core.access import DEMO_ACTOR, Actor, build_actor
from meiguard.core.choices import Role
from meiguard.core.models import User
from meiguard.demo.codes import id_number
from meiguard.registry import actions as reg
from meiguard.registry.models import Institution, Lot, Practitioner
from meiguard.workflow import actions as wf
from meiguard.workflow.models import ExpertCommittee

from . import actions
from .choices import ReviewKind
from .models import Assessment, Case, Client, ConsentSignature, Consultation, OperationRecord, Review

YAMEI = "长沙雅美医疗美容门诊部"
XIANGJIANG = "湘江整形美容医院"
TOXIN = "surg-botulinum-toxin-a-injection"  # grade 1, injection, local anaesthesia
FILLER = "derm-filler-injection"
LIFT = "surg-full-face-neck-lift"  # grade 3, surgery, general anaesthesia
DEMO_NOTE = "演示数据(虚构人物)"
PASSWORD = "Meiguard-demo-2026"  # as every demo login (demo/management/commands/seed_demo.py)
# A drawn signature as the tablet stores it (a tiny PNG data URL).
SIGNATURE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
GOOD_ANSWERS = {
    "hypertension": "none",
    "cardiac": "none",
    "coagulation": "normal",
    "expectation": "realistic",
    "allergy": "none",
    "previous_complication": "none",
    "local_skin": "normal",
    "pregnancy": "no",
}
PRICES = {
    YAMEI: ((TOXIN, "2680"), (FILLER, "5800"), ("surg-double-eyelid", "8800")),
    XIANGJIANG: ((LIFT, "68000"),),
}
TEMPLATES = {
    TOXIN: (
        "A型肉毒毒素美容注射知情同意书",
        "治疗目的:改善动态皱纹。方法:按设计点位皮内或肌内注射,单次总量不超过本机构规定上限。",
        "注射部位疼痛、淤青、红肿;眼睑下垂、表情不自然、两侧不对称;过敏反应;罕见吞咽或呼吸困难。",
        "不治疗;外用护肤、射频或激光等其他方法。",
    ),
    FILLER: (
        "透明质酸填充注射知情同意书",
        "治疗目的:填充凹陷、改善轮廓。方法:按设计部位注射交联透明质酸钠凝胶。",
        "肿胀、淤青、结节、感染、过敏;罕见血管栓塞导致皮肤坏死或视力损害。",
        "不治疗;自体脂肪移植或手术等其他方法。",
    ),
    "surg-double-eyelid": (
        "重睑术知情同意书",
        "手术目的:形成重睑。方法:切开或埋线法,局部麻醉。",
        "肿胀、淤青、感染、瘢痕、两侧不对称、重睑消失或过宽,需二次修复。",
        "不手术;贴双眼皮贴等非手术方法。",
    ),
    LIFT: (
        "全颜面及颌颈部除皱术知情同意书",
        "手术目的、切口设计、SMAS 提紧与皮肤切除;气管插管全身麻醉;术后加压包扎与随访。",
        "出血、血肿、感染、面神经损伤、瘢痕、两侧不对称、皮瓣坏死;麻醉意外。",
        "不手术;线雕提升、射频或注射等非手术方法。",
    ),
}
CLIENTS = {
    # phone → (institution, name, sex, date of birth, ID-number ordinal)
    "13973100101": (YAMEI, "陈女士", "female", dt.date(1991, 4, 18), 9101),
    "13973100102": (YAMEI, "刘女士", "female", dt.date(1986, 11, 2), 9102),
    "13973100103": (YAMEI, "杨先生", "male", dt.date(1979, 7, 25), 9103),
    "13973100104": (XIANGJIANG, "林女士", "female", dt.date(1972, 3, 9), 9104),
}


def seed(stdout: Any) -> None:
    insts = {i.name: i for i in Institution.objects.filter(name__in=[YAMEI, XIANGJIANG])}
    users = {u.username: u for u in User.objects.filter(username__in=["zhao", "li", "zhang", "sun"])}
    people = {
        p.name: p
        for p in Practitioner.objects.filter(
            main_institution__in=insts.values(), name__in=["李明", "张静", "黄涛", "冯雪"]
        )
    }
    if len(insts) < 2 or len(users) < 4 or len(people) < 4:
        stdout.write("临床演示数据:缺少基础演示数据,已跳过 / clinical demo: base world missing, skipped\n")
        return
    actor = {name: build_actor(user) for name, user in users.items()}
    system = Actor.system(DEMO_ACTOR)
    for inst_name, prices in PRICES.items():
        inst = insts[inst_name]
        admin = actor["zhao"] if inst_name == YAMEI else actor["sun"]
        for code, price in prices:
            _price_and_template(admin, inst, code, Decimal(price))
    clients = {phone: _client(actor, insts, phone, *row) for phone, row in CLIENTS.items()}
    _grade1_case(actor, insts[YAMEI], clients["13973100101"], people)
    _consultation_only(actor, insts[YAMEI], clients["13973100102"], people)
    surgeon, anesthetist = _hospital_staff(system, insts[XIANGJIANG], people["黄涛"])
    _grade3_case(actor, insts[XIANGJIANG], clients["13973100104"], surgeon, anesthetist, people["冯雪"])
    stdout.write(
        "临床演示数据已就绪 / clinical demo data ready:"
        "湘江整形美容医院 3 级手术病例待委员会表决,另有登录 huang(黄涛,美容外科主诊)、fang(方宁,麻醉医师),"
        "密码同下 / logins huang, fang (湘江), same password as below\n"
    )


def _price_and_template(admin: Actor, inst: Institution, code: str, price: Decimal) -> None:
    from .models import ProcedurePrice

    if not ProcedurePrice.objects.filter(institution=inst, procedure_code=code).exists():
        actions.set_price(admin, inst.pk, procedure_code=code, price=price)
    if actions.current_template(inst.pk, code) is None:
        title, body, risks, alternatives = TEMPLATES[code]
        actions.create_consent_template(
            admin,
            institution_id=inst.pk,
            procedure_code=code,
            title=title,
            body=body,
            risks=risks,
            alternatives=alternatives,
        )


def _client(
    actor: dict[str, Actor],
    insts: dict[str, Institution],
    phone: str,
    inst_name: str,
    name: str,
    sex: str,
    born: dt.date,
    ordinal: int,
) -> Client:
    inst = insts[inst_name]
    found = Client.objects.filter(institution=inst, phone=phone).first()
    if found is not None:
        return found
    office = actor["zhao"] if inst_name == YAMEI else actor["sun"]
    client = actions.create_client(
        office,
        institution_id=inst.pk,
        data={
            "name": name,
            "sex": sex,
            "date_of_birth": born,
            "phone": phone,
            "document_type": "resident_id",
            "id_number": id_number(ordinal),
            "allergies": "无",
            "medical_history": DEMO_NOTE,
        },
    )
    actions.grant_privacy_consent(
        office,
        client.pk,
        purpose="诊疗、术前评估与术后随访(演示数据)",
        scope=["health", "photos", "id_document"],
        retention_years=30,
        notice_version="2026-1",
    )
    return client


def _case(actor: Actor, client: Client, code: str, **people: Any) -> Case:
    found = Case.objects.filter(client=client, procedure_code=code).first()
    if found is not None:
        return found
    return actions.create_case(actor, client_id=client.pk, procedure_code=code, **people)


def _consult(office: Actor, doctor: Actor | None, case: Case, needs: str) -> None:
    cons = Consultation.objects.filter(case=case).first()
    if cons is None:
        actions.save_consultation(
            office, case.pk, needs=needs, findings=DEMO_NOTE, procedure_codes=[case.procedure_code]
        )
        cons = Consultation.objects.get(case=case)
    if doctor is not None and cons.signed_at is None:
        actions.sign_consultation(doctor, case.pk)


def _consent(nurse: Actor, case: Case) -> None:
    if ConsentSignature.objects.filter(case=case).exists():
        return
    tpl = actions.current_template(case.institution_id, case.procedure_code)
    assert tpl is not None
    actions.sign_consent(
        nurse,
        case.pk,
        template_id=tpl.pk,
        content_hash=tpl.content_hash,
        decision="signed",
        signer_name=case.client.name,
        signature_image=SIGNATURE,
    )


def _assess(nurse: Actor, chief: Actor, anesthetist: Actor | None, case: Case) -> None:
    a = Assessment.objects.filter(case=case).first()
    if a is None:
        a = actions.save_assessment(
            nurse, case.pk, answers=GOOD_ANSWERS, asa_class=1 if case.needs_anesthetist else None
        )
    if a.chief_signed_at is None:
        actions.sign_assessment(chief, case.pk, role="chief")
    if anesthetist is not None and case.needs_anesthetist and a.anesthetist_signed_at is None:
        actions.sign_assessment(anesthetist, case.pk, role="anesthetist")


def _grade1_case(actor: dict[str, Actor], inst: Institution, client: Client, people: dict[str, Any]) -> None:
    li, zhang = actor["li"], actor["zhang"]
    case = _case(actor["zhao"], client, TOXIN, operator_id=people["李明"].pk, nurse_id=people["张静"].pk)
    if case.status == "closed":
        return
    _consult(actor["zhao"], li, case, "改善眉间纹与鱼尾纹")
    _consent(zhang, case)
    _assess(zhang, li, None, case)
    review = Review.objects.filter(case=case).first()
    if review is None:
        review = actions.open_review(actor["zhao"], case.pk)
    if review.status == "pending":
        actions.confirm_review(li, case.pk, role="chief")
        actions.confirm_review(zhang, case.pk, role="nurse")
    if not OperationRecord.objects.filter(case=case).exists():
        actions.open_record(li, case.pk)
    lot = Lot.objects.get(institution=inst, lot_no="HL20260315")
    for key, site, dose in (("demo-1", "眉间", "24"), ("demo-2", "眼周", "16")):
        actions.add_usage(
            li,
            case.pk,
            usage_key=key,
            lot_id=lot.pk,
            dose_value=Decimal(dose),
            dose_unit="U",
            site=site,
            minutes=6,
        )
    actions.close_record(li, case.pk, notes="注射顺利,无不适。术后 2 周复诊。(演示数据)")


def _consultation_only(
    actor: dict[str, Actor], inst: Institution, client: Client, people: dict[str, Any]
) -> None:
    case = _case(actor["zhao"], client, TOXIN, operator_id=people["李明"].pk, nurse_id=people["张静"].pk)
    _consult(actor["zhang"], None, case, "咨询额纹改善,担心表情僵硬")


def _hospital_staff(system: Actor, inst: Institution, huangtao: Practitioner) -> tuple[Actor, Actor]:
    """Logins for the hospital's surgeon and anaesthetist, the surgeon's grading authorization (美容外科 up to
    grade 3), the anaesthetist's 麻醉 privilege and the hospital's committee."""
    org = inst.organization
    users: dict[str, User] = {}
    for username, name in (("huang", "黄涛"), ("fang", "方宁")):
        user = User.objects.filter(username=username).first()
        if user is None:
            user = core.create_user(
                system,
                username=username,
                password=PASSWORD,
                display_name=name,
                organization=org,
                role=Role.DOCTOR,
            )
        users[username] = user
    if huangtao.user_id is None:
        reg.update_practitioner(system, huangtao.pk, user_id=users["huang"].pk)
    fang = Practitioner.objects.filter(main_institution=inst, name="方宁").first()
    if fang is None:
        fang = reg.create_practitioner(
            system,
            main_institution_id=inst.pk,
            name="方宁",
            id_number=id_number(9201),
            profession="anesthetist",
            licence_no="110430100009201",
            practice_category="clinical",
            practice_scope="麻醉科",
            title="attending",
            practising_since=timezone.localdate() - dt.timedelta(days=12 * 365),
            user_id=users["fang"].pk,
        )
        today = timezone.localdate()
        licence = reg.create_qualification(
            system,
            practitioner_id=fang.pk,
            kind="practice_licence",
            issuer="湖南省卫生健康委员会",
            number="ZY0000009201",
            valid_from=today - dt.timedelta(days=2 * 365),
            valid_until=today + dt.timedelta(days=3 * 365),
        )
        reg.verify_qualification(system, licence.pk, status="verified", note="已核对原件(演示数据)")
    _authorize(system, inst, huangtao, subject="cosmetic_surgery", max_grade=3)
    _authorize(system, inst, fang, procedure_category="麻醉", max_grade=3)
    if not ExpertCommittee.objects.filter(institution=inst, is_active=True).exists():
        sun = User.objects.get(username="sun")
        wf.save_committee(
            build_actor(sun),
            institution_id=inst.pk,
            name="医疗质量与安全管理委员会",
            quorum=2,
            member_ids=[sun.pk, users["huang"].pk, users["fang"].pk],
        )
    return build_actor(users["huang"]), build_actor(users["fang"])


def _authorize(system: Actor, inst: Institution, who: Practitioner, **scope: Any) -> None:
    if Authorization.objects.filter(
        institution=inst, practitioner=who, status="active", max_grade=scope["max_grade"]
    ).exists():
        return
    today = timezone.localdate()
    authz.create_authorization(
        system,
        institution_id=inst.pk,
        data={
            "kind": "qualification",
            "practitioner_id": who.pk,
            "valid_from": today - dt.timedelta(days=90),
            "valid_until": today + dt.timedelta(days=2 * 365),
            "grantor": inst.name,
            **scope,
        },
        activate=True,
    )


def _grade3_case(
    actor: dict[str, Actor],
    inst: Institution,
    client: Client,
    surgeon: Actor,
    anesthetist: Actor,
    nurse: Practitioner,
) -> None:
    sun = actor["sun"]
    operator = Practitioner.objects.get(main_institution=inst, name="黄涛")
    anaesthetist = Practitioner.objects.get(main_institution=inst, name="方宁")
    case = _case(
        sun,
        client,
        LIFT,
        operator_id=operator.pk,
        anesthetist_id=anaesthetist.pk,
        nurse_id=nurse.pk,
        anesthesia="general",
        scheduled_at=timezone.now() + dt.timedelta(days=3),
    )
    _consult(sun, surgeon, case, "面颈部松弛下垂,希望整体年轻化")
    _consent(sun, case)
    _assess(sun, surgeon, anesthetist, case)
    review = Review.objects.filter(case=case).first()
    if review is None:
        review = actions.open_review(sun, case.pk)
    assert review.kind == ReviewKind.COMMITTEE
    if not review.discussion:
        actions.record_discussion(
            surgeon,
            case.pk,
            department="美容外科",
            discussion="科室讨论:患者 ASA I 级,评估达标;拟全麻下行全颜面及颌颈部除皱术,提请委员会审核。(演示数据)",
        )
