"""The clocks of complaints and where they come from (docs/complaints.md). Pure: no ORM, no clock, no gettext
of its own.

《医疗机构投诉管理办法》(国家卫生健康委员会, 2019; a departmental rule, REGULATIONS RP-05) asks for
first-contact responsibility (首诉负责制), resolving on the spot where possible, and an answer within a time
limit; the commonly quoted limits — 5 working days, 10 for a case that involves several departments — are not
confirmed from the text, so both are **institution policy settings** with those values as product defaults
(``rules.institution.COMPLAINT_SETTINGS``), as is the acknowledgement limit (24 hours, a product default).

Working days are Monday to Friday; public holidays and the swapped working weekends of the Chinese calendar
are **not modelled** (a deadline that falls in a holiday week comes earlier than the legal count, never later).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.utils import timezone, translation

from meiguard.rules.choices import SourceKind
from meiguard.rules.sources import Citation, cites, source_text

ACK_HOURS_RULE = "INST.complaint-ack-hours"
RESOLVE_DAYS_RULE = "INST.complaint-resolve-working-days"
RESOLVE_DAYS_MULTI_RULE = "INST.complaint-resolve-working-days-multi"
POLICY_RULES = (ACK_HOURS_RULE, RESOLVE_DAYS_RULE, RESOLVE_DAYS_MULTI_RULE)
DEFAULTS: dict[str, int] = {
    ACK_HOURS_RULE: 24,
    RESOLVE_DAYS_RULE: 5,
    RESOLVE_DAYS_MULTI_RULE: 10,
}
# Warnings before each deadline (product defaults, not from the source).
ACK_WARN_BEFORE = dt.timedelta(hours=4)
RESOLVE_WARN_BEFORE = dt.timedelta(hours=24)

SOURCE = ("complaint-rules",)

# Tracking numbers: "TS" + local date + 8 characters of Crockford's base32 (no I, L, O, U): 32⁸ ≈ 10¹²
# possibilities per day, so a number cannot be guessed; a public status lookup also asks for the last four digits
# of the complainant's phone.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_PART = 8


def citations() -> tuple[Citation, ...]:
    return cites(*SOURCE)


def source(lang: str | None = "zh-hans") -> str:
    """《医疗机构投诉管理办法》 with its issuer and year, readable in ``lang``."""
    english = (lang or translation.get_language() or "").startswith("en")
    parts = []
    for c in citations():
        issuer = (c.issuer_en or c.issuer) if english else c.issuer
        kind = SourceKind(c.kind).label if c.kind in SourceKind.values else ""
        if english:
            parts.append(f"{c.text(lang)} ({issuer}, {c.issued}; {_en(kind)})")
        else:
            parts.append(f"{c.text(lang)}({issuer},{c.issued};{kind})")
    return ("; " if english else ";").join(parts) if parts else source_text(citations(), lang)


def _en(label: Any) -> str:
    with translation.override("en"):
        return str(label)


def tracking_number(at: dt.datetime) -> str:
    day = timezone.localtime(at).strftime("%Y%m%d")
    return "TS" + day + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_PART))


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5


def add_working_days(at: dt.datetime, days: int) -> dt.datetime:
    """The end (local midnight) of the ``days``-th working day after the local day of ``at``.

    Received on Friday with 5 working days: Monday … Friday of the next week, due at the end of that Friday.
    Received on Saturday or Sunday: counting starts on Monday, the same."""
    day = timezone.localtime(at).date()
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


@dataclass(frozen=True, slots=True)
class Deadlines:
    ack_due_at: dt.datetime
    resolve_due_at: dt.datetime


def deadlines(received_at: dt.datetime, values: dict[str, int], *, multi_department: bool) -> Deadlines:
    """Both deadlines of a complaint received at ``received_at`` under the institution's settings."""
    days = values[RESOLVE_DAYS_MULTI_RULE] if multi_department else values[RESOLVE_DAYS_RULE]
    return Deadlines(
        ack_due_at=received_at + dt.timedelta(hours=values[ACK_HOURS_RULE]),
        resolve_due_at=add_working_days(received_at, days),
    )


def sla_state(due_at: dt.datetime, done_at: dt.datetime | None, at: dt.datetime, warn: dt.timedelta) -> str:
    from .choices import SlaState

    if done_at is not None:
        return SlaState.ON_TIME if done_at <= due_at else SlaState.LATE
    if at >= due_at:
        return SlaState.OVERDUE
    return SlaState.DUE_SOON if at >= due_at - warn else SlaState.RUNNING
