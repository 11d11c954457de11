"""Reason codes → messages (zh-hans source, English in locale/). Built at the edge, never in the engine.

Every code the engine can emit is here; docs/decision-reasons.md lists them (a test keeps both in step).
Templates use ``{name}`` placeholders filled from the reason's facts.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from meiguard.registry.choices import (
    DeviceStatus,
    InstitutionStatus,
    LotStatus,
    PractitionerStatus,
    ProductCategory,
)
from meiguard.rules.choices import Anesthesia, Invasiveness, Profession, Subject
from meiguard.rules.labels import procedure_name

from .choices import AuthorizationStatus
from .policy import Reason

MESSAGE_LANGUAGES = ("zh-hans", "en")

REASONS: dict[str, Promise] = {
    "INSTITUTION_NOT_ACTIVE": _("机构“{institution}”当前状态为 {status},不得开展诊疗"),
    "INSTITUTION_LICENCE_INVALID": _("机构“{institution}”的执业许可证未生效或缺少有效期"),
    "INSTITUTION_LICENCE_EXPIRED": _("机构“{institution}”的执业许可证已于 {valid_until} 过期"),
    "INSTITUTION_LICENCE_EXPIRING": _(
        "机构“{institution}”的执业许可证将于 {valid_until} 到期(剩余 {days_left} 天)"
    ),
    "INSTITUTION_VERIFICATION_OVERDUE": _("机构“{institution}”的校验已逾期(应于 {verification_due} 前完成)"),
    "INSTITUTION_VERIFICATION_DUE_SOON": _(
        "机构“{institution}”的校验将于 {verification_due} 到期,应在期满前 {notice_months} 个月申请校验"
    ),
    "SUBJECT_NOT_REGISTERED": _("项目 {procedure} 属于 {subject},不在机构登记的诊疗科目内"),
    "PROCEDURE_REQUIRES_MANUAL_REVIEW": _("项目 {procedure} 未在分级目录中定级,须人工审核后方可开展"),
    "PROCEDURE_GRADE_EXCEEDS_INSTITUTION": _(
        "项目 {procedure} 为 {procedure_grade} 级手术,超出机构可开展的 {permitted_grade} 级"
    ),
    "PRACTITIONER_NOT_ACTIVE": _("{practitioner} 当前状态为 {status},不得执业"),
    "PROFESSION_NOT_PERMITTED": _("{practitioner} 的职业类别({profession})不得实施医疗美容项目"),
    "PRACTITIONER_LICENCE_MISSING": _("{practitioner} 没有有效的执业注册证书"),
    "PRACTITIONER_LICENCE_EXPIRED": _("{practitioner} 的执业注册已于 {valid_until} 过期"),
    "PRACTITIONER_LICENCE_EXPIRING": _(
        "{practitioner} 的执业注册将于 {valid_until} 到期(剩余 {days_left} 天)"
    ),
    "QUALIFICATION_UNVERIFIED": _("{practitioner} 的执业证书尚未核验"),
    "PRACTITIONER_NOT_REGISTERED_HERE": _("{practitioner} 未在“{institution}”注册执业(含多点执业)"),
    "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT": _(
        "{practitioner} 不是 {subject} 的备案主诊医师,且没有在场的主诊医师指导"
    ),
    "PRACTITIONER_SCOPE_NOT_ACCEPTED": _(
        "{practitioner} 的执业范围({scopes})不属于该专业认可的范围({accepted})"
    ),
    "CHIEF_FILING_YEARS_SHORT": _("{practitioner} 的主诊备案资历为 {years} 年,少于要求的 {required} 年"),
    "PRACTITIONER_TITLE_TOO_LOW": _("{practitioner} 的职称低于本地要求(主治医师及以上)"),
    "SUPERVISOR_NOT_CHIEF_FOR_SUBJECT": _("指导医师 {supervisor} 不是 {subject} 的备案主诊医师"),
    "SUPERVISOR_NOT_ACTIVE": _("指导医师 {supervisor} 当前不能执业({status})"),
    "SUPERVISOR_NOT_REGISTERED_HERE": _("指导医师 {supervisor} 未在“{institution}”注册执业"),
    "SUPERVISOR_LICENCE_MISSING": _("指导医师 {supervisor} 没有有效的医师执业证书"),
    "SUPERVISOR_LICENCE_EXPIRED": _("指导医师 {supervisor} 的执业注册已于 {valid_until} 过期"),
    "CHIEF_NOT_REGISTERED_IN_PROVINCE": _(
        "{practitioner} 的执业注册地({registered_province})不在{province},不符合本地主诊医师条件"
    ),
    "PERIODIC_ASSESSMENT_NOT_CURRENT": _("{practitioner} 没有在有效期内的医师定期考核合格记录"),
    "CHIEF_TRAINING_SHORT": _(
        "{practitioner} 的美容医学进修为 {training_months} 个月(要求 {required_training_months} 个月),"
        "连续美容临床工作为 {clinical_months} 个月(要求 {required_clinical_months} 个月),均不满足"
    ),
    "NURSE_PROCEDURE_NOT_PERMITTED": _("护士 {practitioner} 不得实施{invasive}类项目 {procedure}"),
    "NURSE_SUPERVISION_REQUIRED": _("护士 {practitioner} 须在主诊医师指导下操作"),
    "NURSE_TRAINING_HOURS_SHORT": _(
        "护士 {practitioner} 的医美专科培训为 {hours} 学时,少于机构要求的 {required} 学时"
    ),
    "NURSE_EXPERIENCE_SHORT": _(
        "护士 {practitioner} 自 {practising_since} 起执业,护理工作不满 {required_years} 年(满 {enough_on})"
    ),
    "NURSE_EXPERIENCE_UNKNOWN": _(
        "护士 {practitioner} 未登记开始执业日期,无法核对是否具有 {required_years} 年护理经历"
    ),
    "NURSE_REGISTRATION_RENEWAL_DUE": _(
        "护士 {practitioner} 的执业注册将于 {valid_until} 到期(剩余 {days_left} 天),"
        "须在届满前 {notice_days} 日申请延续注册"
    ),
    "AUTHORIZATION_MISSING": _("没有覆盖该项目的有效授权"),
    "AUTHORIZATION_NOT_YET_VALID": _("授权 #{authorization} 自 {valid_from} 起生效,尚未生效"),
    "AUTHORIZATION_EXPIRED": _("授权 #{authorization} 已于 {valid_until} 到期"),
    "AUTHORIZATION_EXPIRING": _("授权 #{authorization} 将于 {valid_until} 到期(剩余 {days_left} 天)"),
    "AUTHORIZATION_SUSPENDED": _("授权 #{authorization} 已暂停"),
    "AUTHORIZATION_REVOKED": _("授权 #{authorization} 已撤销"),
    "AUTHORIZATION_NOT_ACTIVE": _("授权 #{authorization} 尚未生效(状态:{status})"),
    "AUTHORIZATION_GRADE_LIMIT": _(
        "授权 #{authorization} 限于 {max_grade} 级及以下,该项目为 {procedure_grade} 级"
    ),
    "AUTHORIZATION_REQUIRES_SUPERVISOR": _(
        "授权 #{authorization} 要求指定的主诊医师(#{supervisor_id})在场指导"
    ),
    "TECHNOLOGY_AUTHORIZATION_MISSING": _("项目 {procedure} 须经本机构新技术和新项目准入,没有有效的技术授权"),
    "TECHNOLOGY_AUTHORIZATION_NOT_YET_VALID": _("技术授权 #{authorization} 自 {valid_from} 起生效,尚未生效"),
    "TECHNOLOGY_AUTHORIZATION_EXPIRED": _("技术授权 #{authorization} 已于 {valid_until} 到期"),
    "TECHNOLOGY_AUTHORIZATION_EXPIRING": _(
        "技术授权 #{authorization} 将于 {valid_until} 到期(剩余 {days_left} 天)"
    ),
    "TECHNOLOGY_AUTHORIZATION_SUSPENDED": _("技术授权 #{authorization} 已暂停"),
    "TECHNOLOGY_AUTHORIZATION_REVOKED": _("技术授权 #{authorization} 已撤销"),
    "TECHNOLOGY_AUTHORIZATION_NOT_ACTIVE": _("技术授权 #{authorization} 尚未生效(状态:{status})"),
    "ANESTHESIOLOGY_DEPARTMENT_MISSING": _("机构“{institution}”未设麻醉科,不得实施{anesthesia}"),
    "ANESTHETIST_REQUIRED": _("项目 {procedure} 采用{anesthesia},须指定麻醉医师"),
    "ANESTHETIST_NOT_DOCTOR": _("麻醉人员 {anesthetist} 不是医师(职业类别:{profession})"),
    "ANESTHETIST_NOT_ACTIVE": _("麻醉医师 {anesthetist} 当前状态为 {status},不得执业"),
    "ANESTHETIST_NOT_REGISTERED_HERE": _("麻醉医师 {anesthetist} 未在“{institution}”注册执业(含多点执业)"),
    "ANESTHETIST_LICENCE_MISSING": _("麻醉医师 {anesthetist} 没有有效的医师执业证书"),
    "ANESTHETIST_LICENCE_EXPIRED": _("麻醉医师 {anesthetist} 的执业注册已于 {valid_until} 过期"),
    "ANESTHETIST_SCOPE_NOT_ANESTHESIOLOGY": _("麻醉医师 {anesthetist} 的执业范围({scopes})不是麻醉科"),
    "ANESTHESIA_PRIVILEGE_MISSING": _("麻醉医师 {anesthetist} 没有本机构的麻醉授权"),
    "LOT_NOT_FOUND": _("批次 #{lot} 不存在"),
    "LOT_NOT_AT_INSTITUTION": _("批次 {lot} 不属于“{institution}”"),
    "LOT_RECALLED": _("批次 {lot} 已被召回({recall_level} 级),禁止使用"),
    "LOT_UNAVAILABLE": _("批次 {lot} 当前不可用(状态:{status})"),
    "LOT_EXPIRED": _("批次 {lot} 已于 {expiry} 过期"),
    "PRODUCT_UNREGISTERED": _("产品“{product}”没有国内注册证/批准文号(疑似水货),禁止使用"),
    "PRODUCT_REGISTRATION_EXPIRED": _("产品“{product}”的注册证 {registration_no} 已于 {valid_until} 过期"),
    "SUPPLIER_NOT_AUTHORIZED": _("产品“{product}”的供应商没有 {brand} 的有效经销授权"),
    "PRODUCT_AUTHORIZATION_MISSING": _("没有使用 {brand} 产品的授权"),
    "TRAINING_CERTIFICATE_MISSING": _("{practitioner} 没有 {covers} 的培训证书"),
    "TRAINING_CERTIFICATE_EXPIRED": _("{practitioner} 的 {covers} 培训证书已过期"),
    "DOSE_UNIT_MISMATCH": _("批次 {lot} 的剂量单位应为 {expected},收到 {unit}"),
    "DOSE_REQUIRED": _("批次 {lot} 须填写本次剂量"),
    "DOSE_OVER_LIMIT": _("本次 {ingredient} 剂量 {dose} 超过单次上限 {limit}"),
    "DURATION_OVER_LIMIT": _("批次 {lot} 单部位操作 {minutes} 分钟,超过上限 {limit} 分钟"),
    "DEVICE_REQUIRED": _("项目 {procedure} 须登记所用设备"),
    "DEVICE_NOT_FOUND": _("设备 #{device} 不存在"),
    "DEVICE_NOT_AT_INSTITUTION": _("设备 {device} 不属于“{institution}”"),
    "DEVICE_NOT_ACTIVE": _("设备 {device} 当前不可用(状态:{status})"),
    "DEVICE_FAILED_CHECK": _("设备 {device} 的检查或校准未通过,已停用;录入通过的检查/校准记录后方可使用"),
    "DEVICE_INSPECTION_OVERDUE": _("设备 {device} 的检查已逾期(应于 {due} 前完成)"),
    "DEVICE_CALIBRATION_OVERDUE": _("设备 {device} 的校准已逾期(应于 {due} 前完成)"),
    "DEVICE_AUTHORIZATION_MISSING": _("没有操作设备 {device} 的授权"),
}


# Fact values that are codes are shown by their (translated) labels in messages; the facts keep the codes.
_LABELS: dict[str, type] = {
    "ingredient": ProductCategory,
    "subject": Subject,
    "invasive": Invasiveness,
    "profession": Profession,
    "anesthesia": Anesthesia,
}

# A "status" fact is the status of what the reason code is about (its prefix).
_STATUS_BY_PREFIX: tuple[tuple[str, type], ...] = (
    ("INSTITUTION_", InstitutionStatus),
    ("LOT_", LotStatus),
    ("DEVICE_", DeviceStatus),
    ("AUTHORIZATION_", AuthorizationStatus),
    ("TECHNOLOGY_", AuthorizationStatus),
    ("", PractitionerStatus),  # practitioner, supervisor, anesthetist
)

# Readable names of the facts a reason carries (shown under each reason); other facts are not shown.
FACT_NAMES: dict[str, Promise] = {
    "institution": _("机构"),
    "practitioner": _("执业人员"),
    "supervisor": _("指导医师"),
    "anesthetist": _("麻醉医师"),
    "procedure": _("项目"),
    "procedure_grade": _("手术级别"),
    "permitted_grade": _("机构可开展级别"),
    "max_grade": _("授权级别上限"),
    "subject": _("专业"),
    "profession": _("职业类别"),
    "status": _("状态"),
    "authorization": _("授权"),
    "valid_from": _("生效日期"),
    "valid_until": _("有效期至"),
    "days_left": _("剩余天数"),
    "verification_due": _("校验截止"),
    "lot": _("批次"),
    "expiry": _("失效日期"),
    "product": _("产品"),
    "brand": _("品牌"),
    "registration_no": _("注册证号"),
    "device": _("设备"),
    "due": _("应完成日期"),
    "dose": _("剂量"),
    "limit": _("上限"),
    "ingredient": _("成分"),
    "anesthesia": _("麻醉方式"),
    "covers": _("培训范围"),
    "scopes": _("执业范围"),
    "accepted": _("认可的执业范围"),
}


def _label(key: str, value: str, code: str = "") -> str:
    if key == "procedure":
        return procedure_name(value)
    if key == "status":
        choices: type | None = next(c for prefix, c in _STATUS_BY_PREFIX if code.startswith(prefix))
    else:
        choices = _LABELS.get(key)
    if choices is None:
        return value
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _format(template: Promise, facts: dict[str, str], code: str = "") -> str:
    values: defaultdict[str, str] = defaultdict(
        lambda: "?", {k: _label(k, v, code) for k, v in facts.items()}
    )
    return str(template).format_map(values)


def message_for(code: str, facts: dict[str, str] | None = None) -> str:
    """The message of a stored reason (code + facts) in the active language; an unknown code stays the code."""
    template = REASONS.get(code)
    if template is None:
        return code
    return _format(template, dict(facts or {}), code)


def fact_rows(code: str, facts: Any) -> list[tuple[str, str]]:
    """(name, value) of the facts worth showing, in the active language: codes become their labels."""
    pairs = facts.items() if isinstance(facts, dict) else facts
    rows = []
    for key, value in pairs:
        name = FACT_NAMES.get(key)
        if name is None or value in (None, ""):
            continue
        shown = _label(key, str(value), code)
        if key == "authorization" and str(value).isdigit():
            shown = f"#{value}"
        rows.append((str(name), shown))
    return rows


def reason_message(reason: Reason) -> str:
    """The message in the active language."""
    template = REASONS.get(reason.code)
    if template is None:
        return reason.code
    return _format(template, dict(reason.facts), reason.code)


@lru_cache(maxsize=8192)
def _messages(reason: Reason) -> tuple[tuple[str, str], ...]:
    out = []
    for lang in MESSAGE_LANGUAGES:
        with translation.override(lang):
            out.append((lang, reason_message(reason)))
    return tuple(out)


def reason_messages(reason: Reason) -> dict[str, str]:
    """The message in every product language; memoised (reasons are immutable, messages depend only on them)."""
    return dict(_messages(reason))


def reason_dict(reason: Reason) -> dict[str, Any]:
    messages = reason_messages(reason)
    return {
        "code": reason.code,
        "severity": str(reason.severity),
        "message": messages.get(translation.get_language() or "", messages["zh-hans"]),
        "messages": messages,
        "rule": reason.rule.as_dict(),
        "facts": dict(reason.facts),
    }
