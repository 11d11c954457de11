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

AT = dt.datetime(2026, 3, 3, 10, 0, tzinfo=CHINA_TZ)
ON = AT.date()
FAR = dt.date(2030, 12, 31)
LONG_AGO = dt.date(2020, 1, 1)


def ref(rule_id: str, source: str = "test") -> RuleRef:
    return RuleRef("cn-national", 1, rule_id, source)


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
        ref(f"procedure:{code}", "MOH2009-220"),
    )


def pack(**changes: object) -> PackFacts:
    base = PackFacts(
        pack="cn-national",
        version=1,
        label="cn-national v1",
        procedure=procedure(),
        permitted_grade=2,
        grade_rule=ref("institution-grade", "IN-03 [S07]"),
        chief=ChiefRequirement(
            "cosmetic_dermatology", 3, frozenset({"皮肤病与性病"}), 0, ref("chief:derm", "PR-02")
        ),
        supervision_rule=ref("supervision", "PR-03 [S01]"),
        nurse_allowed_invasive=frozenset({"non-invasive"}),
        nurse_rule=ref("nurse", "PR-07"),
        nurse_min_training_hours=Decimal(160),
        nurse_training_rule=ref("nurse-hours", "seed 004"),
        authorization_rule=ref("authorization", "institution"),
        product_rule=ref("product", "DD-07"),
        device_rule=ref("device", "DD-07"),
        dose_limits=(DoseLimit("botulinum_toxin_a", Decimal(200), "U", ref("limit:botox", "seed 004")),),
        duration_limits=(DurationLimit("hyaluronic_acid", 40, ref("limit:filler", "seed 004")),),
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
    AnesthesiaRule(1, "local", False, ref("PG-01.grade-1", "PG-01 [S07]; PR-09 [S07]")),
    AnesthesiaRule(2, "epidural-iv", True, ref("PG-01.grade-2", "PG-01 [S07]; PR-09 [S07]")),
    AnesthesiaRule(3, "general", True, ref("PG-01.grade-3", "PG-01 [S07]; PR-09 [S07]")),
    AnesthesiaRule(4, "general", True, ref("PG-01.grade-4", "PG-01 [S07]; PR-09 [S07]")),
)
TECHNOLOGY_RULE = ref("SP-02.new-technology", "SP-02 [S23]; PG-04 [S07]")


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
