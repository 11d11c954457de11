"""Figures against their targets: the rows a report stores, and the deviation warnings (docs/compliance-report.md).

``evaluate(ids, month)`` runs every provider once for all institutions, reads every institution's targets in
two queries (``rules.institution.requirement_values_in_force``) and returns, per institution, one JSON-ready row
per figure. ``warning_for(row)`` is the sentence of a deviation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from meiguard.rules import institution as inst_policy
from meiguard.rules.sources import cites, source_text

from .choices import Comparison, FigureStatus, Unit
from .figures import FIGURES, PLAN_MONTHLY_REPORT, Figure, evaluate_counts

RECTIFICATION_SETTING = "rectification_days"
DEFAULT_RECTIFICATION_DAYS = 30
TOP_DETAILS = 5
TREND_MONTHS = 6


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def previous_month(day: dt.date) -> dt.date:
    return month_start(month_start(day) - dt.timedelta(days=1))


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def percent(numerator: int, denominator: int) -> float | None:
    if not denominator:
        return None
    return float((Decimal(100 * numerator) / Decimal(denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def _rule_id(setting: str) -> str:
    return inst_policy.SETTINGS_BY_KEY[setting].rule_id


def settings_in_force(ids: Sequence[int], on: dt.date) -> dict[int, dict[str, int]]:
    """{institution: {setting key: value}} for the report's settings (targets + rectification days)."""
    keys = [f.target.setting for f in FIGURES if f.target and f.target.setting] + [RECTIFICATION_SETTING]
    rule_ids = tuple(_rule_id(k) for k in keys)
    own, default = inst_policy.requirement_values_in_force(on, rule_ids)
    out: dict[int, dict[str, int]] = {}
    for inst in ids:
        values = own.get(inst, default)
        out[inst] = {k: int(values[_rule_id(k)]) for k in keys if values.get(_rule_id(k)) is not None}
    return out


def sources_of(figure: Figure) -> tuple[str, str]:
    if figure.target is None:
        return "", ""
    citations = cites(*figure.target.sources)
    return source_text(citations, "zh-hans"), source_text(citations, "en")


def rectification_source() -> tuple[str, str]:
    citations = cites(PLAN_MONTHLY_REPORT)
    return source_text(citations, "zh-hans"), source_text(citations, "en")


def figure_row(figure: Figure, numbers: dict[str, int], own: dict[str, int]) -> dict[str, Any]:
    with translation.override("zh-hans"):
        label, explain = str(figure.label), str(figure.explain)
    row: dict[str, Any] = {
        "code": figure.code,
        "label": label,
        "explain": explain,
        "unit": figure.unit,
        "owner_role": figure.owner_role,
        "numerator": None,
        "denominator": None,
        "count": None,
        "value": None,
        "target": None,
        "status": FigureStatus.INFO,
        "details": [],
    }
    if figure.unit == Unit.PERCENT:
        num, den = numbers.get(figure.numerator, 0), numbers.get(figure.denominator, 0)
        row.update(numerator=num, denominator=den, value=percent(num, den))
    else:
        num, den = numbers.get(figure.count, 0), 0
        row.update(count=num, value=num)
    if figure.detail_prefix:
        found = [
            (k[len(figure.detail_prefix) :], v)
            for k, v in numbers.items()
            if k.startswith(figure.detail_prefix)
        ]
        row["details"] = [[k, v] for k, v in sorted(found, key=lambda kv: (-kv[1], kv[0]))[:TOP_DETAILS]]
    for key, _label in figure.details:
        row["details"].append([key, numbers.get(key, 0)])
    if figure.target is not None:
        target = figure.target
        value = own.get(target.setting, target.value) if target.setting else target.value
        source, source_en = sources_of(figure)
        row["target"] = {
            "value": value,
            "comparison": target.comparison,
            "source": source,
            "source_en": source_en,
            "setting": target.setting,
            "policy": bool(target.setting) and value != target.value,
        }
        if figure.unit == Unit.PERCENT and not den:
            row["status"] = FigureStatus.NO_DATA
        elif figure.unit == Unit.PERCENT:
            row["status"] = FigureStatus.MET if target.met(value, num, den) else FigureStatus.OFF_TARGET
        else:
            row["status"] = FigureStatus.MET if target.met(value, num) else FigureStatus.OFF_TARGET
    return row


def evaluate(
    ids: Sequence[int], month: dt.date, figures: Sequence[Figure] = FIGURES
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, dict[str, int]]]:
    """({institution: [figure rows]}, {institution: settings in force}) for the month starting ``month``."""
    start, end = month_start(month), month_end(month)
    answers = evaluate_counts(figures, ids, start, end)
    own = settings_in_force(ids, end) if ids else {}
    rows = {
        inst: [
            figure_row(f, answers[(f.provider, f.period)].get(inst, {}), own.get(inst, {})) for f in figures
        ]
        for inst in ids
    }
    return rows, own


def comparison_text(comparison: str) -> str:
    return str(Comparison(comparison).label) if comparison in Comparison.values else comparison


def shown_value(row: dict[str, Any]) -> str:
    if row["value"] is None:
        return "—"
    return f"{row['value']}%" if row["unit"] == Unit.PERCENT else str(row["value"])


def target_text(row: dict[str, Any]) -> str:
    target = row.get("target")
    if not target:
        return ""
    unit = "%" if row["unit"] == Unit.PERCENT else ""
    return f"{comparison_text(target['comparison'])} {target['value']}{unit}"


def warning_for(row: dict[str, Any]) -> str:
    """The deviation sentence, in the active language."""
    return _("%(label)s 为 %(value)s,未达到目标 %(target)s") % {
        "label": row["label"] if translation.get_language() == "zh-hans" else figure_label(row),
        "value": shown_value(row),
        "target": target_text(row),
    }


def figure_label(row: dict[str, Any]) -> str:
    figure = next((f for f in FIGURES if f.code == row["code"]), None)
    return str(figure.label) if figure else str(row.get("label", row["code"]))


def rectification_days(own: dict[str, int]) -> int:
    return int(own.get(RECTIFICATION_SETTING, DEFAULT_RECTIFICATION_DAYS))
