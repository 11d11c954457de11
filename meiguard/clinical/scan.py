"""Scan-first input: a GS1 code from a chair-side scanner, parsed with biip (DD-05).

Scanners send either the human-readable form with parentheses ``(01)…(17)…(10)…(21)…`` or the raw element
string with the FNC1 group separator (``\\x1d``) and an optional symbology identifier (``]d2``, ``]C1``).
Both become one ``Scanned`` of plain values (the inventory's receipts read the same parse, with the (17) expiry
and (11) production dates); a bad check digit or an unknown layout is a precise 422.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import biip
from biip.gs1_messages import GS1Message
from django.utils.translation import gettext as _

from meiguard.core.errors import FieldErrors


@dataclass(frozen=True, slots=True)
class Scanned:
    gtin: str
    lot: str = ""
    serial: str = ""
    expiry: dt.date | None = None  # (17)
    production: dt.date | None = None  # (11)


def parse_gs1(code: str, *, field: str) -> Scanned:
    text = (code or "").strip()
    message: GS1Message | None = None
    try:
        message = GS1Message.parse_hri(text) if text.startswith("(") else biip.parse(text).gs1_message
    except (biip.ParseError, ValueError):
        message = None
    if message is None:
        raise FieldErrors({field: [_("无法识别的条码:应为 GS1 UDI,例如 (01)…(10)…")]})
    values = {e.ai.ai: e for e in message.element_strings}
    gtin_es = values.get("01")
    if gtin_es is None:
        raise FieldErrors({field: [_("UDI 必须包含 (01) 14位 GTIN")]})
    if gtin_es.gtin is None:
        raise FieldErrors({field: [_("UDI 中 GTIN 校验位不正确")]})
    lot = values["10"].value if "10" in values else ""
    serial = values["21"].value if "21" in values else ""
    expiry = values["17"].date if "17" in values else None
    production = values["11"].date if "11" in values else None
    return Scanned(gtin=gtin_es.value, lot=lot, serial=serial, expiry=expiry, production=production)
