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
