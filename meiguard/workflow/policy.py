"""Pure rules of the approval workflow: risk level, route, how a step's votes add up, expected evidence.

No ORM, no clock, no gettext: callers gather the facts (``queries.scope_facts``) and build messages at the
edge (``reasons.py``). The risk table and its sources are documented in docs/applications.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from meiguard.rules.sources import cites, source_text

from .choices import RISK_ORDER, EvidenceKind, RiskLevel, Stage, StepStatus

QUALIFICATION = "qualification"
PRODUCT = "product"
DEVICE = "device"
TECHNOLOGY = "technology"

SURGICAL = "surgical"
INJECTION = "injection"
ENERGY_DEVICE = "energy-device"
COSMETIC_SURGERY = "cosmetic_surgery"
CLASS_III = "III"

# Where each risk criterion comes from: readable citations of the sources register (packs/sources.yaml).
SRC_GRADE = source_text(cites("grading-catalog-2009 分级标准", "core-systems-2018 手术分级管理制度"))
SRC_UNGRADED_SURGERY = source_text(cites("grading-catalog-2009 未列入该目录"))
SRC_UNGRADED_INVASIVE = source_text(
    cites("grading-catalog-2009 美容皮肤科、美容牙科、美容中医科项目(不分级)")
)
SRC_TECHNOLOGY = source_text(cites("core-systems-2018 新技术和新项目准入制度"))
SRC_HIGH_RISK_PRODUCT = source_text(cites("toxin-notice-2008", "ha-class-2022"))
SRC_PRODUCT = source_text(cites("device-regulation 第五十五条"))
SRC_LOW = source_text(cites("grading-catalog-2009 一级项目"))


@dataclass(frozen=True, slots=True)
class ProcedureInfo:
    code: str
    subject: str
    category: str
    grade: int | None
    invasive: str


@dataclass(frozen=True, slots=True)
class ProductInfo:
    name: str
    brand: str
    kind: str
    risk_class: str
    high_risk: bool

    @property
    def is_high_risk(self) -> bool:
        return self.high_risk or self.risk_class == CLASS_III


@dataclass(frozen=True, slots=True)
class ScopeFacts:
    """What an application asks for, as plain facts.

    procedures: the rule-pack procedures a qualification scope covers (already limited by ``max_grade``);
    products: the registry products of the requested brand (product) or model (device);
    target: the brand / model / technology name as typed.
    """

    kind: str
    procedures: tuple[ProcedureInfo, ...] = ()
    products: tuple[ProductInfo, ...] = ()
    target: str = ""
    technology_kind: str = ""


@dataclass(frozen=True, slots=True)
class RiskReason:
    code: str
    level: str
    source: str
    facts: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "level": self.level, "source": self.source, "facts": dict(self.facts)}


@dataclass(frozen=True, slots=True)
class Risk:
    level: str
    reasons: tuple[RiskReason, ...]


def _codes(procs: Iterable[ProcedureInfo], limit: int = 5) -> str:
    codes = [p.code for p in procs]
    shown = ",".join(codes[:limit])
    return shown + (f" …(+{len(codes) - limit})" if len(codes) > limit else "")


def _reason(code: str, level: str, source: str, **facts: object) -> RiskReason:
    return RiskReason(code, level, source, tuple((k, str(v)) for k, v in facts.items()))


def _qualification_reasons(procs: tuple[ProcedureInfo, ...]) -> list[RiskReason]:
    out: list[RiskReason] = []
    high = [p for p in procs if p.grade is not None and p.grade >= 3]
    if high:
        out.append(
            _reason(
                "PROCEDURE_GRADE_3_PLUS",
                RiskLevel.HIGH,
                SRC_GRADE,
                grade=max(p.grade or 0 for p in high),
                procedures=_codes(high),
                count=len(high),
            )
        )
    manual = [
        p for p in procs if p.grade is None and p.invasive == SURGICAL and p.subject == COSMETIC_SURGERY
    ]
    if manual:
        out.append(
            _reason(
                "PROCEDURE_UNGRADED_SURGERY",
                RiskLevel.HIGH,
                SRC_UNGRADED_SURGERY,
                procedures=_codes(manual),
                count=len(manual),
            )
        )
    grade2 = [p for p in procs if p.grade == 2]
    if grade2:
        out.append(
            _reason(
                "PROCEDURE_GRADE_2", RiskLevel.MEDIUM, SRC_GRADE, procedures=_codes(grade2), count=len(grade2)
            )
        )
    invasive = [
        p
        for p in procs
        if p.grade is None and p.invasive in (INJECTION, ENERGY_DEVICE, SURGICAL) and p not in manual
    ]
    if invasive:
        out.append(
            _reason(
                "PROCEDURE_INVASIVE_UNGRADED",
                RiskLevel.MEDIUM,
                SRC_UNGRADED_INVASIVE,
                procedures=_codes(invasive),
                count=len(invasive),
            )
        )
    if not out:
        out.append(
            _reason(
                "PROCEDURE_LOW_RISK",
                RiskLevel.LOW,
                SRC_LOW,
                procedures=_codes(procs),
                count=len(procs),
            )
        )
    return out


def _product_reasons(scope: ScopeFacts) -> list[RiskReason]:
    if not scope.products:
        return [_reason("PRODUCT_NOT_IN_REGISTRY", RiskLevel.HIGH, SRC_PRODUCT, brand=scope.target)]
    high = [p for p in scope.products if p.is_high_risk]
    if high:
        return [
            _reason(
                "PRODUCT_HIGH_RISK",
                RiskLevel.HIGH,
                SRC_HIGH_RISK_PRODUCT,
                products=",".join(sorted({p.name for p in high})),
                risk_class=",".join(sorted({p.risk_class for p in high if p.risk_class})) or "-",
            )
        ]
    code = "DEVICE_AUTHORIZATION" if scope.kind == DEVICE else "PRODUCT_AUTHORIZATION"
    return [_reason(code, RiskLevel.MEDIUM, SRC_PRODUCT, brand=scope.target)]


def assess_risk(scope: ScopeFacts) -> Risk:
    """The risk level of an application and every reason for it (the highest reason sets the level)."""
    reasons: list[RiskReason] = []
    if scope.kind == TECHNOLOGY:
        reasons.append(
            _reason(
                "TECHNOLOGY",
                RiskLevel.HIGH,
                SRC_TECHNOLOGY,
                technology=scope.target,
                technology_kind=scope.technology_kind or "-",
            )
        )
    elif scope.kind == QUALIFICATION:
        reasons.extend(_qualification_reasons(scope.procedures))
    elif scope.kind in (PRODUCT, DEVICE):
        reasons.extend(_product_reasons(scope))
    if not reasons:  # an unknown kind is refused by validation; assume the worst here
        reasons.append(_reason("UNKNOWN_SCOPE", RiskLevel.HIGH, SRC_TECHNOLOGY, kind=scope.kind))
    level = max((r.level for r in reasons), key=lambda lv: RISK_ORDER[RiskLevel(lv)])
    return Risk(level, tuple(reasons))


# ---- routing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepSpec:
    stage: str
    required: int = 1


class NoCommittee(Exception):
    """A high-risk application needs an expert committee and the institution has none (active)."""


ROUTES: dict[str, tuple[str, ...]] = {
    RiskLevel.LOW: (Stage.MEDICAL_DIRECTOR,),
    RiskLevel.MEDIUM: (Stage.MEDICAL_DIRECTOR, Stage.COMPLIANCE_OFFICER),
    RiskLevel.HIGH: (Stage.MEDICAL_DIRECTOR, Stage.COMPLIANCE_OFFICER, Stage.EXPERT_COMMITTEE),
}


def route(level: str, *, committee_quorum: int | None) -> tuple[StepSpec, ...]:
    """low → 医务科; medium → 医务科, 授权专员; high → 医务科, 授权专员, 专家委员会 (N of M)."""
    stages = ROUTES[RiskLevel(level)]
    out: list[StepSpec] = []
    for stage in stages:
        if stage == Stage.EXPERT_COMMITTEE:
            if committee_quorum is None:
                raise NoCommittee()
            out.append(StepSpec(stage, max(committee_quorum, 1)))
        else:
            out.append(StepSpec(stage, 1))
    return tuple(out)


def tally(*, stage: str, required: int, pool: int, approvals: int, rejects: int, returns: int) -> str | None:
    """The step's outcome after a vote, or None while it stays open.

    A single-person stage is decided by its first vote. The committee approves once ``required`` members
    agree, is rejected as soon as the remaining members can no longer reach ``required``, and any member
    may return the application for more information (a return ends the round at once).
    """
    if returns:
        return StepStatus.RETURNED
    if stage != Stage.EXPERT_COMMITTEE:
        if rejects:
            return StepStatus.REJECTED
        return StepStatus.APPROVED if approvals else None
    if approvals >= required:
        return StepStatus.APPROVED
    if pool - rejects < required:
        return StepStatus.REJECTED
    return None


# ---- evidence ----------------------------------------------------------------------------------

EXPECTED_EVIDENCE: dict[str, tuple[str, ...]] = {
    QUALIFICATION: (EvidenceKind.CERTIFICATE, EvidenceKind.CASE_LOG),
    PRODUCT: (EvidenceKind.CERTIFICATE, EvidenceKind.TRAINING),
    DEVICE: (EvidenceKind.CERTIFICATE, EvidenceKind.TRAINING),
    TECHNOLOGY: (EvidenceKind.TRAINING, EvidenceKind.CASE_LOG, EvidenceKind.OTHER),
}


def expected_evidence(kind: str, level: str) -> tuple[str, ...]:
    """The evidence kinds an application of this kind and risk level should carry."""
    kinds = list(EXPECTED_EVIDENCE.get(kind, ()))
    if level == RiskLevel.HIGH and EvidenceKind.CASE_LOG not in kinds:
        kinds.append(EvidenceKind.CASE_LOG)
    if level in (RiskLevel.MEDIUM, RiskLevel.HIGH) and kind == QUALIFICATION:
        kinds.append(EvidenceKind.TRAINING)
    return tuple(kinds)


def missing_evidence(kind: str, level: str, attached: Iterable[str]) -> tuple[str, ...]:
    have = set(attached)
    return tuple(k for k in expected_evidence(kind, level) if k not in have)
