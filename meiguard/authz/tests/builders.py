"""Hand-built facts for engine tests: ``allowed_case()`` is a case every check passes.

The case: 李医生 (主诊, 美容皮肤科 filing) injects 50 U of botulinum toxin from an available lot, using an
RF device, at 甲门诊部 on 2026-03-03 10:00 (China time); every licence, filing, authorization and
certificate is valid and far from expiry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from meiguard.authz.facts import (
    CHINA_TZ,
    AnesthesiaRule,
    AuthorizationFacts,
    ChiefRequirement,
    DecisionRequest,
    DeviceFacts,
    DoseLimit,
    DurationLimit,
    InstitutionFacts,
    LotFacts,
    PackFacts,
    PractitionerFacts,
    ProcedureFacts,
    ProductFacts,
    ProductUse,
    QualificationFacts,
    Snapshot,
)
from meiguard.rules.services import RuleRef
from meiguard.rules.sources import cites, source_text

AT = dt.datetime(2026, 3, 3, 10, 0, tzinfo=CHINA_TZ)
ON = AT.date()
FAR = dt.date(2030, 12, 31)
LONG_AGO = dt.date(2020, 1, 1)


# The layers a hand-built rule can come from: (pack code, readable pack name, layer).
NATIONAL = ("cn-national", "全国基线", "national")
BEIJING = ("cn-bj", "北京", "provincial")
TEMPLATE = ("inst-template", "机构规范模板", "institution")


def ref(rule_id: str, *cite: str, layer: tuple[str, str, str] = NATIONAL) -> RuleRef:
    """A real-looking rule reference: ``ref("PR-03.non-chief", "measures 第十二条")``.

    ``cite`` are entries of the sources register (packs/sources.yaml), resolved as the loader does, so
    ``source`` is the readable line a stored rule would carry.
    """
    pack_code, pack_name, layer_name = layer
    citations = cites(*cite) if cite else ()
    return RuleRef(
        pack_code,
        1,
        rule_id,
        source_text(citations),
        citations=citations,
        layer=layer_name,
        pack_name=pack_name,
    )


def inst_ref(rule_id: str, *cite: str) -> RuleRef:
    """A rule of the institution layer (the institution is on the template)."""
    return ref(rule_id, *cite, layer=TEMPLATE)


# The rules the builder's pack cites, by rule id (the same ids and citations as the shipped packs).
GRADE_RULE = ref("IN-03.outpatient", "grading-catalog-2009 机构条件")
CHIEF_DERM_RULE = ref("PR-02.cosmetic_dermatology", "measures 第十一条", "chief-filing-2017")
SCOPE_DERM_RULE = ref("PR-06.cosmetic_dermatology", "chief-filing-2017")
CHIEF_SURGERY_RULE = ref("PR-02.cosmetic_surgery", "measures 第十一条", "chief-filing-2017")
SCOPE_SURGERY_RULE = ref("PR-06.cosmetic_surgery", "chief-filing-2017")
SUPERVISION_RULE = ref("PR-03.non-chief", "measures 第十二条、第十九条")
NURSE_RULE = ref("PR-07.nurse", "measures 第十三条")
PHYSICIAN_RULE = ref("PR-01.physician-licence", "measures 第十一条、第十九条")
LICENCE_RULE = ref("IN-01.licence", "measures 第二条")
SUBJECTS_RULE = ref("IN-01.registered-subjects", "measures 第十七条")
VERIFICATION_RULE = ref("IN-04.verification-cycle-years", "verification-rules-2009")
MANUAL_REVIEW_RULE = ref("PG-04.unlisted-surgery", "grading-catalog-2009 未列入该目录")
SURGICAL_GRADING_RULE = ref("SP-02.surgical-grading", "core-systems-2018 手术分级管理制度")
PRODUCT_RULE = ref("DD-07.registered-products", "device-regulation 第五十五条", "drug-administration-law")
SUPPLIER_RULE = ref("DD-07.qualified-supplier", "device-regulation 第四十五条", "toxin-notice-2008")
RECALL_RULE = ref("DD-09.recalled-lots", "device-recall-rules")
DEVICE_RULE = ref("DD-07.device-use", "device-use-rules", "device-regulation 第五十五条")
NURSE_SCOPE_RULE = inst_ref("INST.nurse-non-invasive-only", "authorization-practice-guide 人员授权")
NURSE_HOURS_RULE = inst_ref("INST.nurse-training-hours", "operating-plan-2026 二(二)2")
BOTOX_LIMIT_RULE = inst_ref("INST.botulinum-units-per-session", "operating-plan-2026 一(二)2")
FILLER_LIMIT_RULE = inst_ref("INST.filler-minutes-per-site", "operating-plan-2026 一(二)2")
UNGRADED_AUTHORIZATION_RULE = inst_ref(
    "INST.authorization-ungraded", "authorization-practice-guide 明确授权范围"
)
PRODUCT_AUTHORIZATION_RULE = inst_ref("INST.product-authorization", "authorization-practice-guide 人员授权")
DEVICE_AUTHORIZATION_RULE = inst_ref(
    "INST.device-operator-authorization", "authorization-practice-guide 人员授权"
)


TOXIN = ProductFacts(
    id=10,
    name="注射用A型肉毒毒素",
    brand="衡力",
    kind="drug",
    registration_no="国药准字S20120003",
    registration_valid_until=FAR,
    high_risk=True,
    ingredient="botulinum_toxin_a",
    dose_unit="U",
    supplier_id=1,
    distribution_windows=((LONG_AGO, FAR),),
)
FILLER = ProductFacts(
    id=11,
    name="透明质酸钠凝胶",
    brand="润百颜",
    kind="device",
    registration_no="国械注准20163130001",
    registration_valid_until=FAR,
    high_risk=True,
    ingredient="hyaluronic_acid",
    dose_unit="ml",
    supplier_id=1,
    distribution_windows=((LONG_AGO, FAR),),
)
RF_DEVICE_PRODUCT = ProductFacts(
    id=12,
    name="射频治疗仪",
    brand="热玛吉",
    kind="device",
    registration_no="国械注进20173091234",
    registration_valid_until=FAR,
    high_risk=False,
    ingredient="",
    dose_unit="",
    supplier_id=1,
    distribution_windows=((LONG_AGO, FAR),),
)


def procedure(
    code: str = "derm-botulinum-toxin-injection",
    subject: str = "cosmetic_dermatology",
    grade: int | None = None,
    invasive: str = "injection",
    category: str = "注射",
) -> ProcedureFacts:
    return ProcedureFacts(
        code,
        subject,
        grade,
        invasive,
        category,
        "A型肉毒毒素注射",
        "Botulinum toxin injection",
        ref(f"procedure.{code}", "grading-catalog-2009"),
    )


def pack(**changes: object) -> PackFacts:
    """An institution on the national pack and the institution template (every institution switch set)."""
    base = PackFacts(
        pack="cn-national",
        version=1,
        label="全国基线 v1 + 机构规范模板 v1",
        procedure=procedure(),
        permitted_grade=2,
        grade_rule=GRADE_RULE,
        chief=ChiefRequirement(
            "cosmetic_dermatology",
            3,
            frozenset({"皮肤病与性病"}),
            0,
            CHIEF_DERM_RULE,
            scope_rule=SCOPE_DERM_RULE,
        ),
        supervision_rule=SUPERVISION_RULE,
        nurse_allowed_invasive=frozenset({"non-invasive"}),
        nurse_rule=NURSE_SCOPE_RULE,
        nurse_min_training_hours=Decimal(160),
        nurse_training_rule=NURSE_HOURS_RULE,
        authorization_rule=SURGICAL_GRADING_RULE,
        product_rule=PRODUCT_RULE,
        device_rule=DEVICE_RULE,
        dose_limits=(DoseLimit("botulinum_toxin_a", Decimal(200), "U", BOTOX_LIMIT_RULE),),
        duration_limits=(DurationLimit("hyaluronic_acid", 40, FILLER_LIMIT_RULE),),
        licence_rule=LICENCE_RULE,
        subjects_rule=SUBJECTS_RULE,
        verification_rule=VERIFICATION_RULE,
        manual_review_rule=MANUAL_REVIEW_RULE,
        physician_rule=PHYSICIAN_RULE,
        nurse_registration_rule=NURSE_RULE,
        supplier_rule=SUPPLIER_RULE,
        recall_rule=RECALL_RULE,
        ungraded_authorization_rule=UNGRADED_AUTHORIZATION_RULE,
        product_authorization_rule=PRODUCT_AUTHORIZATION_RULE,
        device_authorization_rule=DEVICE_AUTHORIZATION_RULE,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def qual(
    id: int,
    kind: str,
    *,
    subject: str = "",
    valid_from: dt.date | None = LONG_AGO,
    valid_until: dt.date | None = FAR,
    status: str = "verified",
    years: int | None = None,
    hours: Decimal | None = None,
    reference: str = "",
) -> QualificationFacts:
    return QualificationFacts(id, kind, subject, valid_from, valid_until, status, years, hours, reference)


def doctor(id: int = 1, **changes: object) -> PractitionerFacts:
    base = PractitionerFacts(
        id=id,
        name=f"医生{id}",
        profession="doctor",
        status="active",
        practice_scopes=frozenset({"皮肤病与性病"}),
        title_rank=2,
        main_institution_id=100,
        qualifications=(
            qual(id * 100 + 1, "practice_licence"),
            qual(id * 100 + 2, "chief_physician_filing", subject="cosmetic_dermatology", years=5),
            qual(id * 100 + 3, "training_certificate", reference="衡力"),
            qual(id * 100 + 4, "training_certificate", reference="热玛吉-FLX"),
            qual(id * 100 + 5, "training_certificate", reference="润百颜"),
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def nurse(id: int = 3, **changes: object) -> PractitionerFacts:
    base = PractitionerFacts(
        id=id,
        name=f"护士{id}",
        profession="nurse",
        status="active",
        practice_scopes=frozenset({"护理"}),
        title_rank=1,
        main_institution_id=100,
        qualifications=(
            qual(id * 100 + 1, "nurse_registration"),
            qual(id * 100 + 2, "nurse_training_hours", hours=Decimal(180)),
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def authorization(id: int, kind: str = "qualification", **changes: object) -> AuthorizationFacts:
    base = AuthorizationFacts(
        id=id,
        kind=kind,
        institution_id=100,
        practitioner_id=1,
        status="active",
        valid_from=LONG_AGO,
        valid_until=FAR,
        procedure_code="derm-botulinum-toxin-injection" if kind == "qualification" else "",
        product_brand="衡力" if kind == "product" else "",
        device_model="热玛吉-FLX" if kind == "device" else "",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


INSTITUTION = InstitutionFacts(
    id=100,
    name="甲门诊部",
    status="active",
    licence_valid_from=LONG_AGO,
    licence_valid_until=FAR,
    next_verification_due=FAR,
    subjects=frozenset({"cosmetic_surgery", "cosmetic_dermatology"}),
    province="湖南",
)
LOT = LotFacts(
    id=500,
    lot_no="B2026001",
    institution_id=100,
    expiry=FAR,
    status="available",
    recall_level=None,
    product=TOXIN,
)
FILLER_LOT = LotFacts(
    id=501,
    lot_no="HA2026001",
    institution_id=100,
    expiry=FAR,
    status="available",
    recall_level=None,
    product=FILLER,
)
DEVICE = DeviceFacts(
    id=700,
    serial="RF-0001",
    institution_id=100,
    status="active",
    model="热玛吉-FLX",
    next_inspection_due=FAR,
    next_calibration_due=FAR,
    product=RF_DEVICE_PRODUCT,
)


def allowed_case() -> tuple[DecisionRequest, Snapshot]:
    req = DecisionRequest(
        institution_id=100,
        practitioner_id=1,
        procedure_code="derm-botulinum-toxin-injection",
        at=AT,
        products=(ProductUse(500, Decimal(50), "U"),),
        device_ids=(700,),
    )
    snap = Snapshot(
        pack=pack(),
        institution=INSTITUTION,
        practitioner=doctor(),
        authorizations=(
            authorization(1),
            authorization(2, "product"),
            authorization(3, "device"),
            authorization(4, "product", product_brand="润百颜"),
        ),
        lots=(LOT, FILLER_LOT),
        devices=(DEVICE,),
    )
    return req, snap


def with_quals(
    p: PractitionerFacts,
    drop_kind: str | None = None,
    *extra: QualificationFacts,
    replace_kind: tuple[str, QualificationFacts] | None = None,
) -> PractitionerFacts:
    quals = [q for q in p.qualifications if q.kind != drop_kind]
    if replace_kind is not None:
        kind, new = replace_kind
        quals = [q for q in quals if q.kind != kind] + [new]
    return replace(p, qualifications=(*quals, *extra))


SUPERVISOR_FOR_TESTS = doctor(
    2,
    qualifications=(
        qual(201, "practice_licence"),
        qual(202, "chief_physician_filing", subject="cosmetic_dermatology", years=8),
    ),
)


# ---- anaesthesia, technology and provincial extras ---------------------------------------------

ANESTHESIA_RULES = (
    AnesthesiaRule(1, "local", False, ref("PG-01.grade-1", "grading-catalog-2009 分级标准")),
    AnesthesiaRule(2, "epidural-iv", True, ref("PG-01.grade-2", "grading-catalog-2009 分级标准")),
    AnesthesiaRule(3, "general", True, ref("PG-01.grade-3", "grading-catalog-2009 分级标准")),
    AnesthesiaRule(4, "general", True, ref("PG-01.grade-4", "grading-catalog-2009 分级标准")),
)
TECHNOLOGY_RULE = ref(
    "SP-02.new-technology", "core-systems-2018 新技术和新项目准入制度", "grading-catalog-2009 未列入该目录"
)


def anesthetist(id: int = 9, **changes: object) -> PractitionerFacts:
    """王麻醉: an anaesthesiologist (doctor, scope 麻醉科) registered at 甲门诊部 with a current licence."""
    base = PractitionerFacts(
        id=id,
        name=f"麻醉医生{id}",
        profession="doctor",
        status="active",
        practice_scopes=frozenset({"麻醉科"}),
        title_rank=2,
        main_institution_id=100,
        qualifications=(qual(id * 100 + 1, "practice_licence"),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def technology(id: int = 6, **changes: object) -> AuthorizationFacts:
    """An institution-wide technology authorization (新技术准入) for the thread lift at 甲门诊部."""
    fields: dict[str, object] = {"practitioner_id": None, "procedure_code": "derm-thread-lift", **changes}
    return authorization(id, "technology", **fields)
