"""Words for checklist items, built when shown (active language) from the facts stored with each item.

Items keep structured evidence, not sentences, so the same item reads in Chinese or English and the
reports, pages and API agree. Templates use ``{name}`` placeholders filled from ``item.evidence``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext_lazy as _

from .checklist import MONTHLY_BY_CODE, REASON_LABELS
from .choices import ItemCategory

if TYPE_CHECKING:
    from .models import ChecklistItem

TITLES: dict[str, Promise] = {
    ItemCategory.DENIED_DECISIONS: _(
        "{practitioner} · {procedure_name}:{count} 次核验被拒(超范围或授权失效)"
    ),
    ItemCategory.EXPIRING_IN_USE: _(
        "授权 #{authorization}({practitioner} · {scope})将于 {valid_until} 到期,仍在使用"
    ),
    "cme": _("{practitioner}:{year} 年度继续医学教育学分不足"),
    "nurse_hours": _("{practitioner}:医美专科培训学时不足"),
    ItemCategory.MONTHLY_CHECK: _("{year} 年 {month} 月 · {check}"),
    "inv_expired_use": _("过期后仍被使用的批次:{count} 次使用(应为 0)"),
    "inv_recalled_use": _("召回后仍被使用的批次:{count} 次使用(应为 0)"),
    "inv_not_scanned": _("未扫码记录的产品使用:{count}/{total} 次(目标 100% 扫码)"),
    "inv_open_discrepancies": _("未处理的高风险药品对账不符:{count} 天"),
    "inv_open_alerts": _("未处理的假冒/串货预警:{count} 条"),
    "inv_devices_overdue": _("检查或校准逾期的在用设备:{count} 台(截至 {on})"),
}

DETAILS: dict[str, Promise] = {
    ItemCategory.DENIED_DECISIONS: _("{first_at} 至 {last_at} 共 {count} 次被拒;原因:{reasons}"),
    ItemCategory.EXPIRING_IN_USE: _(
        "剩余 {days_left} 天({window} 天内到期);近 {lookback} 天允许核验 {uses} 次,最近一次 {last_used}"
    ),
    "cme": _(
        "合计 {total}/{required_total} 分;I类 {class_i}/{required_i} 分,II类 {class_ii}/{required_ii} 分"
        "(两类不可互相替代)"
    ),
    "nurse_hours": _("累计 {hours}/{required} 学时(机构要求,非国家规定)"),
    "inv_expired_use": _("使用记录时间晚于批次失效日期;批号:{examples}"),
    "inv_recalled_use": _("批次召回登记之后仍有使用记录;批号:{examples}"),
    "inv_not_scanned": _("按批次手工录入、未扫描追溯码或 UDI 的使用;批号:{examples}"),
    "inv_open_discrepancies": _("本季度对账不符且预警尚未登记处理结果的日期:{examples}"),
    "inv_open_alerts": _("追溯码重复扫码或未入库即使用、尚未登记处理结果;追溯码:{examples}"),
    "inv_devices_overdue": _("在用设备超过检查或校准到期日;设备:{examples}"),
}


def _localized(facts: dict[str, Any]) -> dict[str, Any]:
    """Procedure names in English where the item stored one and English is active."""
    if (get_language() or "").startswith("en"):
        for key in ("procedure_name", "scope"):
            if facts.get(f"{key}_en"):
                facts[key] = facts[f"{key}_en"]
    return facts


def _fill(template: Promise, facts: dict[str, Any]) -> str:
    values: defaultdict[str, str] = defaultdict(lambda: "?", {k: str(v) for k, v in facts.items()})
    return str(template).format_map(values)


def _template_key(item: ChecklistItem) -> str:
    if item.category == ItemCategory.TRAINING_SHORT:
        return str((item.evidence or {}).get("kind", "cme"))
    if item.category == ItemCategory.INVENTORY:
        return "inv_" + str((item.evidence or {}).get("check", ""))
    return str(item.category)


def item_title(item: ChecklistItem) -> str:
    facts = _localized(dict(item.evidence or {}))
    if item.category == ItemCategory.MONTHLY_CHECK:
        check = MONTHLY_BY_CODE.get(item.check_code)
        facts["check"] = str(check.label) if check else item.check_code
    template = TITLES.get(_template_key(item))
    return _fill(template, facts) if template is not None else item.key


def item_detail(item: ChecklistItem) -> str:
    facts = dict(item.evidence or {})
    if item.category == ItemCategory.MONTHLY_CHECK:
        check = MONTHLY_BY_CODE.get(item.check_code)
        return str(check.description) if check else ""
    if item.category == ItemCategory.DENIED_DECISIONS:
        codes = facts.get("codes") or {}
        facts["reasons"] = pgettext("list separator", "、").join(
            f"{REASON_LABELS.get(code, code)} ×{n}" for code, n in sorted(codes.items())
        )
    template = DETAILS.get(_template_key(item))
    return _fill(template, facts) if template is not None else ""
