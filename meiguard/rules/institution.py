"""The institution layer (本机构规范): each institution's own policy on top of the national and provincial rules.

A policy is a rule-pack of jurisdiction ``institution`` (code ``inst-<institution id>``) whose versions are
drafted, diffed, impact-reported and published exactly like the national and provincial packs. A new version
starts from the institution's newest version (or, the first time, from the shipped template ``inst-template``)
and changes the values of the *settings* below. Values of the institution's own rules (dose and duration
limits, follow-up schedules, switches) are free; national and provincial rules may only be **tightened**: a
value that relaxes one is refused with a message naming the rule.

Every rule of a policy cites the institution's own document (kind 机构规范), so a decision says
"本机构规范 v3 ·《…》" rather than pretending an institution's practice is national law.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.choices import INSTITUTION_WRITERS
from meiguard.core.errors import ActionError

from . import services
from .choices import Invasiveness, Jurisdiction, RuleKind, RuleLevel, RuleOp, SourceKind, VersionStatus
from .models import Rule, RulePack, RulePackVersion
from .services import TEMPLATE_PACK, ResolvedPack, institution_pack_code, thaw
from .sources import Citation, citation_json, source_text

POLICY_NAME = "本机构规范"
POLICY_NAME_EN = "Institution policy"

FREE = "free"  # the institution's own value
AT_LEAST = "at_least"  # a minimum: may only be raised
AT_MOST = "at_most"  # a maximum: may only be lowered
ONLY_TRUE = "only_true"  # a requirement that may be switched on, never off
SUBSET = "subset"  # a list of what is allowed: may only shrink

_OFFSET_RE = re.compile(r"^[1-9][0-9]{0,3}[hdwm]$")
_ASCII_NUMBER_RE = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,2})?$")


_DEFAULT_GROUP = _("机构规范")

# Reminders before an expiry date: the product's default until an institution sets its own days.
REMINDER_RULE = "INST.expiry-reminder-days"
REMINDER_METRIC = "expiry_reminder_days"
DEFAULT_REMINDER_DAYS: tuple[int, ...] = (90, 60, 30, 7)
MAX_REMINDER_DAYS = 365
# Filler volume per session: no product default; an institution's own limit once it sets one.
FILLER_VOLUME_RULE = "INST.filler-ml-per-session"
# Inventory (issue 13): near-expiry days (default 90) and whether trace-code alerts also go to the association.
NEAR_EXPIRY_RULE = "INST.near-expiry-days"
NEAR_EXPIRY_METRIC = "near_expiry_days"
DEFAULT_NEAR_EXPIRY_DAYS = 90
TRACE_ALERT_RULE = "INST.trace-alert-association"
TRACE_ALERT_METRIC = "trace_alert_to_association"


# Aftercare settings (key = the requirement's metric): key, rule id, label, unit, stored title (zh, en),
# the product default, unit name. Read for every institution at once by ``requirement_values_in_force``.
AFTERCARE_SETTINGS: tuple[tuple[str, str, Promise, str, str, str, int, str], ...] = (
    (
        "follow_up_retry_count",
        "INST.follow-up-retry-count",
        _("随访未联系上时重试次数(之后记为失访)"),
        "",
        "随访未联系上时重试次数",
        "Follow-up retries before lost to follow-up",
        2,
        "times",
    ),
    (
        "follow_up_retry_hours",
        "INST.follow-up-retry-hours",
        _("随访重试间隔(小时)"),
        "h",
        "随访重试间隔",
        "Hours between follow-up attempts",
        24,
        "hours",
    ),
    (
        "lot_reaction_threshold",
        "INST.lot-reaction-threshold",
        _("同一批次不良反应达到此例数即标记"),
        "",
        "同一批次不良反应标记阈值",
        "Reactions on one lot before it is flagged",
        3,
        "reactions",
    ),
    (
        "lot_reaction_window_days",
        "INST.lot-reaction-window-days",
        _("批次不良反应统计窗口(天)"),
        "d",
        "批次不良反应统计窗口",
        "Window for counting reactions on one lot",
        30,
        "days",
    ),
    (
        "cluster_threshold",
        "INST.cluster-threshold",
        _("同一批次或产品在统计窗口内的不良事件达到此例数即记为群体不良事件"),
        "",
        "群体不良事件判定例数",
        "Events on one lot or product that make a cluster",
        3,
        "events",
    ),
    (
        "cluster_window_hours",
        "INST.cluster-window-hours",
        _("群体不良事件统计窗口(小时)"),
        "h",
        "群体不良事件统计窗口",
        "Window for counting events on one lot or product (hours)",
        72,
        "hours",
    ),
)


# Complaint clocks (issue 14 part 4, docs/complaints.md): 《医疗机构投诉管理办法》(2019) leaves the limits to the
# institution; the product defaults are 24 h to acknowledge, 5 working days to resolve, 10 for a complaint that
# involves several departments. Same shape as AFTERCARE_SETTINGS.
COMPLAINT_SETTINGS: tuple[tuple[str, str, Promise, str, str, str, int, str], ...] = (
    (
        "complaint_ack_hours",
        "INST.complaint-ack-hours",
        _("投诉回应时限(受理后小时数)"),
        "h",
        "投诉回应时限",
        "Hours to acknowledge a complaint",
        24,
        "hours",
    ),
    (
        "complaint_resolve_working_days",
        "INST.complaint-resolve-working-days",
        _("投诉处理时限(工作日)"),
        "",
        "投诉处理时限",
        "Working days to resolve a complaint",
        5,
        "working_days",
    ),
    (
        "complaint_resolve_working_days_multi",
        "INST.complaint-resolve-working-days-multi",
        _("涉及多个部门的投诉处理时限(工作日)"),
        "",
        "涉及多个部门的投诉处理时限",
        "Working days to resolve a complaint involving several departments",
        10,
        "working_days",
    ),
)

# Monthly compliance report (issue 14 part 5): targets an institution may set for itself and the days it has to
# rectify a figure off target. Same shape as AFTERCARE_SETTINGS; read for every institution at once.
COMPLIANCE_SETTINGS: tuple[tuple[str, str, Promise, str, str, str, int, str], ...] = (
    (
        "follow_up_completion_min",
        "INST.follow-up-completion-target",
        _("随访完成率目标(%,不低于)"),
        "%",
        "随访完成率目标",
        "Follow-up completion target",
        100,
        "percent",
    ),
    (
        "loss_to_follow_up_max",
        "INST.loss-to-follow-up-target",
        _("失访率目标(%,不高于)"),
        "%",
        "失访率目标",
        "Loss to follow-up target",
        5,
        "percent",
    ),
    (
        "reactions_on_time_min",
        "INST.reactions-on-time-target",
        _("不良反应处置及时率目标(%,不低于)"),
        "%",
        "不良反应处置及时率目标",
        "Adverse reactions handled on time target",
        98,
        "percent",
    ),
    (
        "rectification_days",
        "INST.rectification-days",
        _("月度合规报告偏离项整改期限(天)"),
        "d",
        "月度合规报告偏离项整改期限",
        "Days to rectify a figure off target in the monthly compliance report",
        30,
        "days",
    ),
)


@dataclass(frozen=True, slots=True)
class Setting:
    """One value a compliance officer may set: which rule, which field, what kind of value."""

    key: str  # stable API key
    rule_id: str
    field: str  # a field of the rule's data ("max_value", "value", "schedule", "may_perform", …)
    kind: str  # number | integer | boolean | schedule | invasiveness
    label: Promise
    unit: str = ""
    direction: str = FREE  # how far an institution may move a national/provincial value
    group: Promise = _DEFAULT_GROUP
    # The rule an institution's policy gains when it first sets this value and neither its policy, the
    # template nor a national/provincial pack has the rule yet: {"kind", "title", "title_en", "data"}.
    # Until then the value of ``data[field]`` applies (the product's default).
    fallback: Mapping[str, Any] | None = None


def _requirement_settings(
    rows: tuple[tuple[str, str, Promise, str, str, str, int, str], ...], group: Promise
) -> list[Setting]:
    """Integer settings with a product default (``fallback``, kind requirement) that joins an institution's policy
    the first time it sets its own value: (key, rule id, label, unit, title, English title, default, unit name)."""
    return [
        Setting(
            key,
            rule_id,
            "value",
            "integer",
            label,
            unit,
            group=group,
            fallback={
                "kind": RuleKind.REQUIREMENT,
                "title": title,
                "title_en": title_en,
                "data": {"metric": key, "value": default, "unit": unit_name},
            },
        )
        for key, rule_id, label, unit, title, title_en, default, unit_name in rows
    ]


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "botulinum_units_per_session",
        "INST.botulinum-units-per-session",
        "max_value",
        "number",
        _("A型肉毒毒素单次注射上限"),
        "U",
        group=_("剂量与时长"),
    ),
    Setting(
        "filler_minutes_per_site",
        "INST.filler-minutes-per-site",
        "max_value",
        "number",
        _("单部位填充操作时长上限"),
        "min",
        group=_("剂量与时长"),
    ),
    Setting(
        "filler_ml_per_session",
        FILLER_VOLUME_RULE,
        "max_value",
        "number",
        _("透明质酸(填充剂)单次注射总量上限"),
        "ml",
        group=_("剂量与时长"),
        # No limit until an institution sets one: the rule joins its policy the first time it is set. The
        # engine reads it like the toxin limit (amount per session of the ingredient, summed over a record).
        fallback={
            "kind": RuleKind.LIMIT,
            "title": "透明质酸(填充剂)单次注射总量上限",
            "title_en": "Hyaluronic acid (filler) volume per session",
            "data": {
                "metric": "units_per_session",
                "max_value": None,
                "unit": "ml",
                "product_kind": "hyaluronic_acid",
                "procedures": ["derm-filler-injection"],
            },
        },
    ),
    Setting(
        "follow_up_surgical",
        "INST.follow-up-surgical",
        "schedule",
        "schedule",
        _("手术类项目随访时间点"),
        group=_("随访"),
    ),
    Setting(
        "follow_up_non_surgical",
        "INST.follow-up-non-surgical",
        "schedule",
        "schedule",
        _("非手术类项目随访时间点"),
        group=_("随访"),
    ),
    Setting(
        "authorization_required_ungraded",
        "INST.authorization-ungraded",
        "value",
        "boolean",
        _("不分级项目也须逐项授权"),
        group=_("授权"),
    ),
    Setting(
        "product_authorization_required",
        "INST.product-authorization",
        "value",
        "boolean",
        _("高风险产品须逐人授权并持厂家培训证书"),
        group=_("授权"),
    ),
    Setting(
        "device_authorization_required",
        "INST.device-operator-authorization",
        "value",
        "boolean",
        _("设备操作须逐型号授权并持培训证书"),
        group=_("授权"),
    ),
    Setting(
        "nurse_may_perform",
        "INST.nurse-non-invasive-only",
        "may_perform",
        "invasiveness",
        _("护士可独立操作的项目类别"),
        group=_("人员"),
    ),
    Setting(
        "nurse_training_hours",
        "INST.nurse-training-hours",
        "value",
        "number",
        _("护士医美专科培训最低学时"),
        "h",
        group=_("人员"),
    ),
    Setting(
        "device_inspection_days",
        "INST.device-inspection-days",
        "value",
        "integer",
        _("设备巡检间隔(天)"),
        "d",
        group=_("设备"),
    ),
    Setting(
        "device_calibration_days",
        "INST.device-calibration-days",
        "value",
        "integer",
        _("设备检测校准间隔(天)"),
        "d",
        group=_("设备"),
    ),
    Setting(
        "expiry_reminder_days",
        REMINDER_RULE,
        "value",
        "days",
        _("证照、资质与授权到期前提醒(天)"),
        "d",
        group=_("提醒"),
        fallback={
            "kind": RuleKind.REQUIREMENT,
            "title": "证照、资质与授权到期前提醒",
            "title_en": "Reminders before licences, qualifications and authorizations expire",
            "data": {"metric": REMINDER_METRIC, "value": list(DEFAULT_REMINDER_DAYS), "unit": "days"},
        },
    ),
    # Aftercare (issue 14): product defaults until an institution sets its own (docs/aftercare.md).
    *_requirement_settings(AFTERCARE_SETTINGS, _("随访")),
    # Complaints (issue 14 part 4): product defaults until an institution sets its own (docs/complaints.md).
    *_requirement_settings(COMPLAINT_SETTINGS, _("投诉")),
    # The monthly compliance report (issue 14 part 5): targets and rectification days (docs/compliance-report.md).
    *_requirement_settings(COMPLIANCE_SETTINGS, _("月度合规报告")),
    Setting(
        "near_expiry_days",
        NEAR_EXPIRY_RULE,
        "value",
        "integer",
        _("库存近效期提示(失效前天数)"),
        "d",
        group=_("库存"),
        fallback={
            "kind": RuleKind.REQUIREMENT,
            "title": "库存近效期提示",
            "title_en": "Stock near expiry: days before the expiry date",
            "data": {"metric": NEAR_EXPIRY_METRIC, "value": DEFAULT_NEAR_EXPIRY_DAYS, "unit": "days"},
        },
    ),
    Setting(
        "trace_alert_to_association",
        TRACE_ALERT_RULE,
        "value",
        "boolean",
        _("追溯码假冒/串货预警同时通知行业协会(监督机构)"),
        group=_("库存"),
        fallback={
            "kind": RuleKind.REQUIREMENT,
            "title": "追溯码预警通知行业协会",
            "title_en": "Trace-code alerts also go to the association",
            "data": {"metric": TRACE_ALERT_METRIC, "value": False},
        },
    ),
    # National rules an institution may tighten.
    Setting(
        "cme_credits_per_year",
        "PR-08.cme-credits",
        "value",
        "number",
        _("医师每年继续医学教育学分(不低于国家要求)"),
        direction=AT_LEAST,
        group=_("收紧国家规定"),
    ),
    Setting(
        "nurse_min_years",
        "PR-07.nurse",
        "min_nursing_years",
        "number",
        _("美容护理人员最低护理年限(不低于国家要求)"),
        "y",
        direction=AT_LEAST,
        group=_("收紧国家规定"),
    ),
    Setting(
        "chief_surgery_min_years",
        "PR-02.cosmetic_surgery",
        "min_years",
        "integer",
        _("美容外科主诊医师最低临床年限(不低于国家要求)"),
        "y",
        direction=AT_LEAST,
        group=_("收紧国家规定"),
    ),
)
SETTINGS_BY_KEY: Mapping[str, Setting] = {s.key: s for s in SETTINGS}


class PolicyError(ActionError):
    def __init__(self, code: str, message: str, field: str = "", status: int = 422):
        super().__init__(code, message, field=field, status=status)


# ---- values ------------------------------------------------------------------------------------


def parse_value(setting: Setting, raw: Any) -> Any:
    """The setting's value from JSON or a form; ``PolicyError`` with a precise message if malformed."""
    field = f"values.{setting.key}"
    if setting.kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "on", "1"):
            return True
        if raw in ("false", "off", "0", ""):
            return False
        raise PolicyError("POLICY_VALUE_INVALID", gettext("须为是或否"), field)
    if setting.kind in ("number", "integer"):
        text = str(raw).strip() if isinstance(raw, int | str | Decimal) and not isinstance(raw, bool) else ""
        if not _ASCII_NUMBER_RE.match(text) or (setting.kind == "integer" and "." in text):
            raise PolicyError(
                "POLICY_VALUE_INVALID",
                gettext("须为正整数") if setting.kind == "integer" else gettext("须为数字(最多两位小数)"),
                field,
            )
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise PolicyError("POLICY_VALUE_INVALID", gettext("须为数字(最多两位小数)"), field) from None
        if number <= 0 or number > 100000:
            raise PolicyError("POLICY_VALUE_INVALID", gettext("须大于 0 且不超过 100000"), field)
        return int(number) if setting.kind == "integer" or number == number.to_integral() else str(number)
    items = raw.split(",") if isinstance(raw, str) else raw
    if setting.kind == "days" and isinstance(items, list):
        items = [str(i) if isinstance(i, int) and not isinstance(i, bool) else i for i in items]
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise PolicyError("POLICY_VALUE_INVALID", gettext("须为列表"), field)
    items = [i.strip() for i in items if i.strip()]
    if setting.kind == "days":
        days = [int(i) for i in items if i.isascii() and i.isdigit() and len(i) <= 3]
        if (
            len(days) != len(items)
            or not 1 <= len(days) <= 6
            or len(set(days)) != len(days)
            or not all(1 <= d <= MAX_REMINDER_DAYS for d in days)
        ):
            raise PolicyError(
                "POLICY_VALUE_INVALID",
                gettext("须为 1–6 个不重复的天数(1–%(max)s),如 90, 60, 30, 7") % {"max": MAX_REMINDER_DAYS},
                field,
            )
        return sorted(days, reverse=True)
    if setting.kind == "schedule":
        if not 1 <= len(items) <= 12 or not all(_OFFSET_RE.match(i) for i in items):
            raise PolicyError(
                "POLICY_VALUE_INVALID",
                gettext("须为 1–12 个时间点,如 24h、3d、1w、1m(小时、天、周、月)"),
                field,
            )
        return items
    unknown = [i for i in items if i not in Invasiveness.values]
    if unknown:
        raise PolicyError(
            "POLICY_VALUE_INVALID", gettext("未知的项目类别:%(v)s") % {"v": ", ".join(unknown)}, field
        )
    return sorted(set(items))


def current_value(pack: ResolvedPack, setting: Setting) -> Any:
    rule = pack.rules.get(setting.rule_id)
    if rule is None:
        return setting.fallback["data"].get(setting.field) if setting.fallback else None
    value = thaw(rule.data).get(setting.field)
    return value


def reminder_days(pack: ResolvedPack) -> tuple[int, ...]:
    """The days before an expiry date at which an institution's people are reminded (its policy, else the
    product's default 90/60/30/7), largest first."""
    found = pack.requirement(REMINDER_METRIC)
    value = found.value if found is not None else None
    if isinstance(value, list | tuple) and value:
        return tuple(sorted((int(v) for v in value), reverse=True))
    return DEFAULT_REMINDER_DAYS


DEVICE_INSPECTION_RULE = "INST.device-inspection-days"
DEVICE_CALIBRATION_RULE = "INST.device-calibration-days"


@dataclass(frozen=True, slots=True)
class DeviceInterval:
    """How often an institution's devices are inspected or calibrated by its policy (本机构规范, else the
    template), and the rule that says so (None when neither sets a value)."""

    days: int | None
    rule: services.RuleRef | None


def device_intervals(pack: ResolvedPack) -> tuple[DeviceInterval, DeviceInterval]:
    """(inspection, calibration) intervals of the institution layer of ``pack``."""
    out = []
    for rule_id in (DEVICE_INSPECTION_RULE, DEVICE_CALIBRATION_RULE):
        rule = pack.rules.get(rule_id)
        value = rule.data.get("value") if rule is not None else None
        days = int(value) if isinstance(value, int | float | str) and str(value).isdigit() else None
        out.append(DeviceInterval(days if days and days > 0 else None, rule.ref if rule else None))
    return out[0], out[1]


def device_intervals_for(
    province: str | None, institution_id: int, on: dt.date
) -> tuple[DeviceInterval, DeviceInterval]:
    """The device intervals in force at one institution on ``on`` (no values without an active pack)."""
    try:
        pack = services.resolve(services.normalize_province(province), on, institution_id)
    except services.NoActivePack:
        return DeviceInterval(None, None), DeviceInterval(None, None)
    return device_intervals(pack)


def reminder_days_in_force(on: dt.date) -> tuple[dict[int, tuple[int, ...]], tuple[int, ...]]:
    """Every institution's reminder days on ``on`` in two queries (the daily scan): the days of institutions
    whose layer sets them, and the days of all others (the template's, else the default)."""
    rows = services.published_in_force(on)
    own: dict[int, int] = {}
    for r in rows:  # newest first: the first version of each institution's policy is the one in force
        if r.institution_pk is not None:
            own.setdefault(r.institution_pk, r.pk)
    template = next((r.pk for r in rows if r.code == TEMPLATE_PACK), None)
    data = dict(
        Rule.objects.filter(version_id__in=[*own.values(), template], rule_id=REMINDER_RULE).values_list(
            "version_id", "data"
        )
    )

    def days(version_pk: int | None) -> tuple[int, ...] | None:
        value = (data.get(version_pk) or {}).get("value")
        return tuple(sorted((int(v) for v in value), reverse=True)) if value else None

    default = days(template) or DEFAULT_REMINDER_DAYS
    return {inst: days(pk) or DEFAULT_REMINDER_DAYS for inst, pk in own.items()}, default


def requirement_values_in_force(
    on: dt.date, rule_ids: tuple[str, ...]
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """The ``value`` of requirement rules ``rule_ids`` for every institution on ``on`` in two queries (jobs):
    ``({institution id: {rule id: value}}, {rule id: value of the template})``; a rule an institution's policy
    does not have takes the template's value, then the setting's product default (``fallback``)."""
    rows = services.published_in_force(on)
    own: dict[int, int] = {}
    for r in rows:  # newest first: the first version of each institution's policy is the one in force
        if r.institution_pk is not None:
            own.setdefault(r.institution_pk, r.pk)
    template = next((r.pk for r in rows if r.code == TEMPLATE_PACK), None)
    found: dict[int, dict[str, Any]] = {}
    for version_id, rule_id, data in Rule.objects.filter(
        version_id__in=[*own.values(), template], rule_id__in=rule_ids
    ).values_list("version_id", "rule_id", "data"):
        found.setdefault(version_id, {})[rule_id] = (data or {}).get("value")
    defaults: dict[str, Any] = {}
    for s in SETTINGS:
        if s.rule_id in rule_ids and s.fallback is not None:
            defaults[s.rule_id] = s.fallback["data"].get(s.field)
    default = {**defaults, **{k: v for k, v in found.get(template or 0, {}).items() if v is not None}}
    per_institution = {
        inst: {**default, **{k: v for k, v in found.get(pk, {}).items() if v is not None}}
        for inst, pk in own.items()
    }
    return per_institution, default


def _number(value: Any) -> Decimal:
    return Decimal(str(value))


def relaxation(setting: Setting, base: ResolvedPack, value: Any) -> str | None:
    """Why ``value`` relaxes a national or provincial rule (a message naming it), or None."""
    rule = base.rules.get(setting.rule_id)
    if rule is not None and rule.level != RuleLevel.INSTITUTION:
        bound = thaw(rule.data).get(setting.field)
        problem = None
        if setting.direction == AT_LEAST and bound is not None and _number(value) < _number(bound):
            problem = gettext("不得低于 %(bound)s") % {"bound": bound}
        elif setting.direction == AT_MOST and bound is not None and _number(value) > _number(bound):
            problem = gettext("不得高于 %(bound)s") % {"bound": bound}
        elif setting.direction == ONLY_TRUE and bound is True and value is not True:
            problem = gettext("不得关闭")
        elif setting.direction == SUBSET and bound is not None and not set(value) <= set(bound):
            problem = gettext("只能在 %(bound)s 范围内") % {"bound": ", ".join(bound)}
        elif setting.direction == FREE:
            problem = gettext("不可由机构调整")
        if problem:
            return gettext("不能放宽%(level)s“%(title)s”(%(pack)s):%(problem)s") % {
                "level": RuleLevel(rule.level).label,
                "title": rule.title,
                "pack": rule.ref.pack_label,
                "problem": problem,
            }
    if setting.field == "max_value":
        # An institution's own limit may not exceed a national or provincial limit for the same ingredient.
        template_rule = _template_rule(setting.rule_id)
        metric = template_rule.data.get("metric") if template_rule else None
        kind = template_rule.data.get("product_kind") if template_rule else None
        for lim in base.limits:
            if lim.level == RuleLevel.INSTITUTION:
                continue
            if lim.metric == metric and lim.product_kind == kind and _number(value) > lim.max_value:
                base_rule = base.rules[lim.rule_id]
                return gettext("不能放宽%(level)s“%(title)s”(%(pack)s):不得高于 %(bound)s%(unit)s") % {
                    "level": RuleLevel(base_rule.level).label,
                    "title": base_rule.title,
                    "pack": base_rule.ref.pack_label,
                    "bound": lim.max_value.normalize(),
                    "unit": lim.unit,
                }
    return None


def _template_rule(rule_id: str) -> Rule | None:
    version = (
        RulePackVersion.objects.published().filter(pack__code=TEMPLATE_PACK).order_by("-version").first()
    )
    if version is None:
        return None
    return Rule.objects.filter(version=version, rule_id=rule_id).first()


# ---- reading -----------------------------------------------------------------------------------


def base_pack(province: str, on: dt.date) -> ResolvedPack:
    """National + provincial rules only (what an institution may tighten but not relax)."""
    prov = services.normalize_province(province)
    found = services.versions_in_force(prov, on)
    if found.national is None:
        raise services.NoActivePack(prov, on)
    return services.build(prov, found.national, found.overlay, None)


def policy_pack(institution_id: int) -> RulePack | None:
    return RulePack.objects.filter(institution_pk=institution_id).first()


def versions(institution_id: int) -> list[RulePackVersion]:
    return list(
        RulePackVersion.objects.filter(pack__institution_pk=institution_id)
        .select_related("pack")
        .order_by("-version")
    )


@dataclass(frozen=True, slots=True)
class SettingRow:
    setting: Setting
    value: Any
    base_value: Any  # the national/provincial value it may not relax (None: the institution's own rule)
    rule_title: str
    source: str


def setting_rows(pack: ResolvedPack, base: ResolvedPack) -> list[SettingRow]:
    rows = []
    for s in SETTINGS:
        rule = pack.rules.get(s.rule_id)
        base_rule = base.rules.get(s.rule_id)
        rows.append(
            SettingRow(
                s,
                current_value(pack, s),
                thaw(base_rule.data).get(s.field) if base_rule is not None else None,
                rule.display_title if rule else "",
                rule.ref.pack_label + " · " + rule.source if rule else "",
            )
        )
    return rows


# ---- writing -----------------------------------------------------------------------------------


def _institution_for_update(actor: Actor, institution_id: int) -> Any:
    from meiguard.registry.models import Institution

    inst = Institution.objects.visible_to(actor).filter(pk=institution_id).first()
    if inst is None:
        raise PolicyError("NOT_FOUND", gettext("机构不存在"), "institution_id", status=404)
    if not actor.can_write_org(inst.organization_id, INSTITUTION_WRITERS):
        raise PolicyError(
            "FORBIDDEN", gettext("只有本机构的机构管理员或授权专员可以修改本机构规范"), "institution_id", 403
        )
    return inst


def can_edit(actor: Actor, institution: Any) -> bool:
    return actor.can_write_org(institution.organization_id, INSTITUTION_WRITERS)


def _own_citation(inst: Any, document: str) -> Citation:
    return Citation(
        doc=institution_pack_code(inst.pk),
        kind=SourceKind.INSTITUTION_POLICY,
        title=document,
        title_en=document,
        issuer=inst.name,
        issuer_en=inst.name,
    )


@transaction.atomic
def save_draft(
    actor: Actor,
    institution_id: int,
    *,
    values: Mapping[str, Any],
    document: str = "",
    effective_from: dt.date | None = None,
) -> RulePackVersion:
    """A new draft version of the institution's policy with ``values`` changed (the others kept).

    Unknown keys, malformed values and relaxations of national or provincial rules are refused (nothing
    written). A draft not yet published is replaced by the next save.
    """
    inst = _institution_for_update(actor, institution_id)
    unknown = [k for k in values if k not in SETTINGS_BY_KEY]
    if unknown:
        raise PolicyError("POLICY_SETTING_UNKNOWN", gettext("本机构规范没有此项设定"), f"values.{unknown[0]}")
    document = (document or "").strip() or gettext("%(name)s 医疗美容服务规范") % {"name": inst.name}
    if len(document) > 120 or any(ord(ch) < 32 for ch in document):
        raise PolicyError("POLICY_DOCUMENT_INVALID", gettext("文件名称须为 1–120 个字符"), "document")
    today = timezone.localdate()
    if effective_from is not None and effective_from < today:
        raise PolicyError("POLICY_BACKDATED", gettext("生效日期不能早于今天"), "effective_from")

    base = base_pack(inst.province, effective_from or today)
    parsed = {key: parse_value(SETTINGS_BY_KEY[key], raw) for key, raw in values.items()}
    for key, value in parsed.items():
        problem = relaxation(SETTINGS_BY_KEY[key], base, value)
        if problem:
            raise PolicyError("POLICY_RELAXES_RULE", problem, f"values.{key}")

    pack, _created = RulePack.objects.select_for_update().get_or_create(
        institution_pk=inst.pk,
        defaults={
            "code": institution_pack_code(inst.pk),
            "name": POLICY_NAME,  # not translated when stored: see services._info
            "name_en": POLICY_NAME_EN,
            "jurisdiction": Jurisdiction.INSTITUTION,
            "province": services.normalize_province(inst.province),
            "organization_pk": inst.organization_id,
        },
    )
    versions_qs = RulePackVersion.objects.filter(pack=pack).order_by("-version")
    latest = versions_qs.first()
    start = latest or _template_version()
    if start is None:
        raise PolicyError("POLICY_TEMPLATE_MISSING", gettext("没有已发布的机构规范模板"), status=409)
    start_rules = {r.rule_id: r for r in Rule.objects.filter(version=start).order_by("position", "pk")}

    citation = _own_citation(inst, document)
    out: dict[str, Rule] = {}
    for rule_id, r in start_rules.items():
        out[rule_id] = Rule.like(r, level=RuleLevel.INSTITUTION)
    for key, value in parsed.items():
        setting = SETTINGS_BY_KEY[key]
        rule = out.get(setting.rule_id)
        if rule is None:
            base_rule = base.rules.get(setting.rule_id)
            if base_rule is not None:
                rule = out[setting.rule_id] = Rule(
                    rule_id=setting.rule_id,
                    kind=base_rule.kind,
                    op=RuleOp.CHANGE,
                    title=base_rule.title,
                    title_en=base_rule.title_en,
                    level=RuleLevel.INSTITUTION,
                    data={},
                )
            elif setting.fallback is not None:
                rule = out[setting.rule_id] = Rule(
                    rule_id=setting.rule_id,
                    kind=setting.fallback["kind"],
                    op=RuleOp.ADD,
                    title=setting.fallback["title"],
                    title_en=setting.fallback["title_en"],
                    level=RuleLevel.INSTITUTION,
                    adjustable=True,
                    data=dict(setting.fallback["data"]),
                )
            else:
                raise PolicyError(
                    "POLICY_SETTING_UNKNOWN", gettext("规则包中没有此项规则"), f"values.{key}", status=409
                )
        rule.data[setting.field] = value
    for rule in out.values():
        rule.citations = [citation_json(citation)]
        rule.source = source_text([citation])[:255]

    if latest is not None and latest.status == VersionStatus.DRAFT:
        version = latest
        before = audit.snapshot(version)
        version.rules.all().delete()
    else:
        version = RulePackVersion(pack=pack, version=(latest.version + 1) if latest else 1)
        before = None
    version.status = VersionStatus.DRAFT
    version.effective_from = effective_from
    version.source_doc = source_text([citation])[:255]
    version.description = gettext("由 %(who)s 编辑") % {"who": actor.username}
    version.checksum = _checksum(out)
    version.loaded_from = ""
    version.save()
    for position, rule in enumerate(out.values()):  # the working copies are the rows to store
        rule.version, rule.position = version, position
    Rule.objects.bulk_create(out.values())
    audit.record(
        actor,
        "rules.institutionpolicy.saved",
        version,
        before=before,
        changes={key: [None, value] for key, value in parsed.items()} or None,
    )
    return version


def _checksum(rules: Mapping[str, Rule]) -> str:
    payload = [
        {"id": r.rule_id, "kind": r.kind, "op": r.op, "data": r.data, "citations": r.citations}
        for r in rules.values()
    ]
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def _template_version() -> RulePackVersion | None:
    return (
        RulePackVersion.objects.published()
        .filter(pack__code=TEMPLATE_PACK, effective_from__lte=timezone.localdate())
        .order_by("-version")
        .first()
    )


@transaction.atomic
def publish(
    actor: Actor, institution_id: int, version_number: int, *, effective_from: dt.date
) -> RulePackVersion:
    """Publish a draft of the institution's policy, effective on a day from today on (never backdated)."""
    from . import actions

    _institution_for_update(actor, institution_id)
    if effective_from < timezone.localdate():
        raise PolicyError("POLICY_BACKDATED", gettext("生效日期不能早于今天"), "effective_from")
    version = (
        RulePackVersion.objects.filter(pack__institution_pk=institution_id, version=version_number)
        .select_related("pack")
        .first()
    )
    if version is None:
        raise PolicyError("NOT_FOUND", gettext("没有这个版本"), "version", status=404)
    if version.is_published:
        raise PolicyError("POLICY_ALREADY_PUBLISHED", gettext("该版本已发布,不能再改"), "version", 409)
    return actions.publish_version(
        actor, version.pack.code, version.version, effective_from=effective_from
    ).version


@transaction.atomic
def adopt_template(
    actor: Actor, institution_id: int, *, effective_from: dt.date, document: str = ""
) -> RulePackVersion:
    """The institution takes the template's values as its own policy v1 (idempotent: nothing if it has one)."""
    existing = versions(institution_id)
    if existing:
        return existing[0]
    draft = save_draft(actor, institution_id, values={}, document=document, effective_from=effective_from)
    return publish(actor, institution_id, draft.version, effective_from=effective_from)
