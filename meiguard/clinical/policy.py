"""Pure functions of the treatment case: the assessment score, the review grade, the checklist parties and the
gate's reasons. No ORM, no clock: callers pass plain facts.

Every reason code has a Chinese message (English through the catalog) and the documents it rests on, cited
from the sources register (``rules/packs/sources.yaml``) so a reader sees title and article, not an id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from meiguard.rules.sources import Citation, cites, source_text

from .choices import ChecklistNodeKind, ChecklistParty, ReviewKind, RiskLevel

DATA = Path(__file__).resolve().parent / "data"
HIGH_RISK_GRADE = 3  # 三级以上美容外科手术 → committee review (operating-plan-2026 一(一)2)


@lru_cache(maxsize=1)
def assessment_form() -> Mapping[str, Any]:
    return yaml.safe_load((DATA / "assessment.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def checklist_items() -> Mapping[str, list[dict[str, str]]]:
    return yaml.safe_load((DATA / "checklist.yaml").read_text(encoding="utf-8"))["nodes"]  # type: ignore[no-any-return]


def form_items() -> dict[str, dict[str, Any]]:
    return {item["id"]: item for section in assessment_form()["sections"] for item in section["items"]}


# ---- assessment -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Thresholds:
    medium_risk_from: int
    high_risk_from: int
    fail_from: int


@dataclass(frozen=True, slots=True)
class Scored:
    score: int
    risk_level: str
    passed: bool
    findings: tuple[str, ...]  # item ids whose answer blocks or scores, for the warnings shown
    errors: Mapping[str, str] = field(default_factory=dict)  # field → message key, for bad answers


def score(
    answers: Mapping[str, str], asa_class: int | None, *, needs_asa: bool, limits: Thresholds
) -> Scored:
    """Sum the chosen options' points; a blocking answer or a score from ``fail_from`` fails the assessment."""
    items = form_items()
    errors: dict[str, str] = {}
    total = 0
    blocked = False
    findings: list[str] = []
    for key in answers:
        if key not in items:
            errors[f"answers.{key}"] = "unknown_item"
    for item_id, item in items.items():
        chosen = answers.get(item_id)
        if chosen is None:
            errors[f"answers.{item_id}"] = "missing"
            continue
        option = next((o for o in item["options"] if str(o["value"]) == chosen), None)
        if option is None:
            errors[f"answers.{item_id}"] = "invalid_option"
            continue
        total += int(option["points"])
        if option.get("blocks"):
            blocked = True
        if option["points"]:
            findings.append(item_id)
    form = assessment_form()
    if needs_asa:
        if asa_class is None:
            errors["asa_class"] = "missing"
        else:
            total += int(form["asa_points"][asa_class])
            if asa_class >= int(form["asa_blocks_from"]):
                blocked = True
            if asa_class > 1:
                findings.append("asa_class")
    if total >= limits.high_risk_from:
        level = RiskLevel.HIGH
    elif total >= limits.medium_risk_from:
        level = RiskLevel.MEDIUM
    else:
        level = RiskLevel.LOW
    passed = not blocked and total < limits.fail_from
    return Scored(total, str(level), passed, tuple(findings), errors)


def review_kind(grade: int | None, surgical: bool, risk_level: str) -> str:
    """High risk — grade ≥ 3 surgery, or a high assessment risk — goes to the committee; the rest is confirmed
    by the 主诊 and a nurse (分级评估)."""
    if (surgical and grade is not None and grade >= HIGH_RISK_GRADE) or risk_level == RiskLevel.HIGH:
        return str(ReviewKind.COMMITTEE)
    return str(ReviewKind.CONFIRMATION)


def checklist_parties(anesthesia: str, *, two_party_under_local: bool) -> tuple[str, ...]:
    """SP-01: surgeon, anaesthetist and OR nurse; surgeon and nurse only where the anaesthesia is local (or
    none) and the institution so decides (configurable: the two-party rule is unconfirmed nationally)."""
    if anesthesia in ("", "local") and two_party_under_local:
        return (str(ChecklistParty.SURGEON), str(ChecklistParty.NURSE))
    return (str(ChecklistParty.SURGEON), str(ChecklistParty.ANESTHETIST), str(ChecklistParty.NURSE))


def node_item_ids(node: str) -> tuple[str, ...]:
    return tuple(i["id"] for i in checklist_items()[node])


# ---- gate reasons ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReasonSpec:
    message: Promise
    sources: tuple[str, ...]

    @property
    def citations(self) -> tuple[Citation, ...]:
        return cites(*self.sources)


REASONS: Mapping[str, ReasonSpec] = {
    "PRIVACY_CONSENT_MISSING": ReasonSpec(
        _("求美者未单独同意处理其敏感个人信息(健康信息),或同意已撤回"), ("pipl 第二十九条",)
    ),
    "CONSULTATION_NOT_SIGNED": ReasonSpec(_("面诊记录尚未由医师签名"), ("measures 第十二条",)),
    "CONSENT_NOT_SIGNED": ReasonSpec(
        _("求美者尚未签署本项目的知情同意书"), ("measures 第二十条", "dispute-regulation 第十三条")
    ),
    "CONSENT_REFUSED": ReasonSpec(_("求美者拒绝签署知情同意书"), ("measures 第二十条",)),
    "CONSENT_OUTDATED": ReasonSpec(_("签署的知情同意书不是本项目的现行版本"), ("measures 第二十条",)),
    "ASSESSMENT_MISSING": ReasonSpec(_("尚未完成术前评估"), ("operating-plan-2026 一(一)1",)),
    "ASSESSMENT_FAILED": ReasonSpec(_("术前评估不达标,严禁开展"), ("operating-plan-2026 一(一)1",)),
    "ASSESSMENT_CHIEF_SIGNATURE_MISSING": ReasonSpec(
        _("术前评估缺少主诊医师签名"), ("operating-plan-2026 一(一)1",)
    ),
    "ASSESSMENT_ANESTHETIST_SIGNATURE_MISSING": ReasonSpec(
        _("本项目麻醉方式超出局部麻醉,术前评估缺少麻醉医师签名"), ("operating-plan-2026 一(一)1",)
    ),
    "REVIEW_MISSING": ReasonSpec(
        _("尚未进行分级评估"), ("operating-plan-2026 一(一)2", "core-systems-2018 术前讨论制度")
    ),
    "REVIEW_NOT_APPROVED": ReasonSpec(
        _("分级评估尚未通过"), ("operating-plan-2026 一(一)2", "core-systems-2018 术前讨论制度")
    ),
    "CHECKLIST_NODE1_INCOMPLETE": ReasonSpec(
        _("手术安全核查第一节点(麻醉实施前)尚未完成"), ("surgical-safety-check-2010",)
    ),
    "ENGINE_DENIED": ReasonSpec(_("授权核验未通过"), ("measures 第十二条",)),
    "RECORD_ALREADY_OPEN": ReasonSpec(_("本病例已开启治疗/手术记录"), ()),
    "CASE_NOT_OPEN": ReasonSpec(_("病例不在术前准备状态"), ()),
}


@dataclass(frozen=True, slots=True)
class GateFacts:
    """What the gate reads, as plain values (loaded by actions.open_record in a fixed number of queries)."""

    case_status: str
    surgical: bool
    needs_anesthetist: bool
    privacy_consent_active: bool
    consultation_signed: bool
    consent: str  # "" | signed | refused | outdated
    assessment_exists: bool
    assessment_passed: bool
    chief_signed: bool
    anesthetist_signed: bool
    review_status: str  # "" | pending | approved | rejected
    node1_complete: bool
    record_exists: bool
    engine_allowed: bool


def gate_reasons(f: GateFacts) -> Iterator[str]:
    """Every missing condition, not the first (like the engine)."""
    if f.record_exists:
        yield "RECORD_ALREADY_OPEN"
        return
    if f.case_status != "open":
        yield "CASE_NOT_OPEN"
        return
    if not f.privacy_consent_active:
        yield "PRIVACY_CONSENT_MISSING"
    if not f.consultation_signed:
        yield "CONSULTATION_NOT_SIGNED"
    if f.consent == "refused":
        yield "CONSENT_REFUSED"
    elif f.consent == "outdated":
        yield "CONSENT_OUTDATED"
    elif f.consent != "signed":
        yield "CONSENT_NOT_SIGNED"
    if not f.assessment_exists:
        yield "ASSESSMENT_MISSING"
    else:
        if not f.assessment_passed:
            yield "ASSESSMENT_FAILED"
        if not f.chief_signed:
            yield "ASSESSMENT_CHIEF_SIGNATURE_MISSING"
        if f.needs_anesthetist and not f.anesthetist_signed:
            yield "ASSESSMENT_ANESTHETIST_SIGNATURE_MISSING"
    if not f.review_status:
        yield "REVIEW_MISSING"
    elif f.review_status != "approved":
        yield "REVIEW_NOT_APPROVED"
    if f.surgical and not f.node1_complete:
        yield "CHECKLIST_NODE1_INCOMPLETE"
    if not f.engine_allowed:
        yield "ENGINE_DENIED"


def reason_detail(code: str, *, lang: str | None = None) -> dict[str, str]:
    """``{field, code, message, source}`` for the error envelope's ``errors`` (message in the active language)."""
    spec = REASONS[code]
    return {
        "field": "case_id",
        "code": code,
        "message": str(spec.message),
        "source": source_text(spec.citations, lang),
    }


NODES = tuple(str(n) for n in ChecklistNodeKind)
