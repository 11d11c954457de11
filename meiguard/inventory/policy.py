"""What an institution's own policy (本机构规范) decides for its stock: near-expiry days and whether trace-code
alerts also go to the association. Both are institution-policy settings (``rules.institution``); without a
policy the product's defaults apply (90 days; compliance officers only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from meiguard.registry.models import Institution
from meiguard.rules import services
from meiguard.rules.institution import DEFAULT_NEAR_EXPIRY_DAYS, NEAR_EXPIRY_METRIC, TRACE_ALERT_METRIC


def _value(institution_id: int, on: dt.date, metric: str, province: str | None = None) -> Any:
    if province is None:
        province = Institution.objects.filter(pk=institution_id).values_list("province", flat=True).first()
    if province is None:
        return None
    try:
        pack = services.resolve(services.normalize_province(province), on, institution_id)
    except services.NoActivePack:
        return None
    found = pack.requirement(metric)
    return found.value if found is not None else None


def near_expiry_days(institution_id: int, on: dt.date, *, province: str | None = None) -> int:
    value = _value(institution_id, on, NEAR_EXPIRY_METRIC, province)
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else DEFAULT_NEAR_EXPIRY_DAYS


def alert_association(institution_id: int, on: dt.date) -> bool:
    return _value(institution_id, on, TRACE_ALERT_METRIC) is True
