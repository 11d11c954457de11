"""Messages for the workflow's own codes (risk reasons and preview gaps), built at the edge.

Deny reasons of the decision engine keep their own messages (``authz.reasons``); the codes here are the
ones only the workflow raises. Templates use ``{name}`` placeholders filled from the facts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from meiguard.authz.choices import TechnologyKind
from meiguard.rules.labels import procedure_name

RISK_MESSAGES: dict[str, Promise] = {
    "TECHNOLOGY": _("技术授权“{technology}”属新技术和新项目准入,须经专家委员会论证"),
    "PROCEDURE_GRADE_3_PLUS": _("范围内含 {count} 个三级及以上手术(最高 {grade} 级):{procedures}"),
    "PROCEDURE_UNGRADED_SURGERY": _("范围内含 {count} 个未定级的美容外科手术,须人工评审:{procedures}"),
    "PROCEDURE_GRADE_2": _("范围内含 {count} 个二级手术:{procedures}"),
    "PROCEDURE_INVASIVE_UNGRADED": _("范围内含 {count} 个注射、光电或微创类项目:{procedures}"),
    "PROCEDURE_LOW_RISK": _("范围内均为一级手术或非侵入项目:{procedures}"),
    "PRODUCT_HIGH_RISK": _("{products} 属高风险产品(第三类医疗器械或高风险药品,类别:{risk_class})"),
    "PRODUCT_NOT_IN_REGISTRY": _("登记中没有品牌/型号为“{brand}”的产品,无法核实其风险"),
    "PRODUCT_AUTHORIZATION": _("产品授权:{brand}"),
    "DEVICE_AUTHORIZATION": _("设备授权:{brand}"),
    "UNKNOWN_SCOPE": _("无法识别的授权类型 {kind}"),
}

GAP_MESSAGES: dict[str, Promise] = {
    "SCOPE_OVERLAP": _("已有生效中的授权 #{authorization} 覆盖相同范围且期限重叠;批准时将被拒绝"),
    "PRODUCT_NOT_IN_REGISTRY": _("登记中没有品牌/型号为“{brand}”的产品"),
    "DEVICE_NOT_AT_INSTITUTION": _("本机构尚未登记型号为“{model}”的设备"),
    "SCOPE_EMPTY": _("申请范围内没有可开展的项目"),
    "TERM_ENDED": _("申请的截止日期 {valid_until} 已过"),
}

ROUTING_MESSAGES: dict[str, Promise] = {
    "NO_COMMITTEE": _("高风险申请须经专家委员会评审,但本机构尚未设立启用的专家委员会,暂不能提交"),
    "NO_APPROVER": _("本机构没有可审批“{stage}”环节的人员(申请人和被授权人本人不能审批)"),
    "COMMITTEE_TOO_SMALL": _(
        "专家委员会可投票的委员只有 {pool} 人,少于通过所需的 {quorum} 人(申请人和被授权人本人不能投票)"
    ),
}

_LABELS = {"technology_kind": dict(TechnologyKind.choices)}


def _procedures(value: object) -> str:
    """The stored "code,code …(+n)" list of a risk reason, by procedure names (the codes stay in the facts)."""
    text = str(value)
    head, sep, rest = text.partition(" …")
    names = [procedure_name(code.strip()) for code in head.split(",") if code.strip()]
    return "、".join(names) + (f"{sep}{rest}" if sep else "")


def _format(template: Promise, facts: Mapping[str, object]) -> str:
    values: defaultdict[str, str] = defaultdict(lambda: "?")
    for key, value in facts.items():
        labels = _LABELS.get(key)
        if key == "procedures":
            values[key] = _procedures(value)
            continue
        values[key] = str(labels.get(str(value), value)) if labels else str(value)
    return str(template).format_map(values)


def risk_message(code: str, facts: Mapping[str, object]) -> str:
    template = RISK_MESSAGES.get(code)
    return _format(template, facts) if template is not None else code


def gap_message(code: str, facts: Mapping[str, object]) -> str:
    template = GAP_MESSAGES.get(code)
    return _format(template, facts) if template is not None else code


def routing_message(code: str, facts: Mapping[str, object]) -> str:
    template = ROUTING_MESSAGES.get(code)
    return _format(template, facts) if template is not None else code
