"""The clocks of aftercare and where each comes from (docs/aftercare.md). Pure: no ORM, no clock.

- Follow-up contacts: the procedure's schedule in the institution policy (``ResolvedPack.follow_up_for``; the
  template 3 d / 7 d / 1 m / 3 m for surgical and 24 h / 1 w / 1 m for other items, from one institution's
  operating plan, cited as institution policy).
- Outcome evaluations: short term in months 1–3 and long term in months 3–6 after treatment (one
  institution's operating procedures, cited as institution policy): a window from ``window_from`` to ``due_at``.
- Retries and loss to follow-up, the lot flag: institution-policy settings with product defaults
  (``rules.institution.AFTERCARE_SETTINGS``).
- Adverse reactions: mild → the responsible nurse guides home care and tracks 48 h; moderate → the 主诊 sees
  the client within 2 h; severe → MDT and the emergency process at once (one institution's operating plan,
  cited as institution policy). "At once" is measured as 30 minutes (a product default, not from the plan).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from meiguard.rules.services import FollowUpOffset
from meiguard.rules.sources import Citation, cites, source_text

from .choices import FollowUpKind, ReactionGrade, StepKind

RETRY_COUNT_RULE = "INST.follow-up-retry-count"
RETRY_HOURS_RULE = "INST.follow-up-retry-hours"
LOT_THRESHOLD_RULE = "INST.lot-reaction-threshold"
LOT_WINDOW_RULE = "INST.lot-reaction-window-days"
POLICY_RULES = (RETRY_COUNT_RULE, RETRY_HOURS_RULE, LOT_THRESHOLD_RULE, LOT_WINDOW_RULE)
DEFAULTS: dict[str, int] = {
    RETRY_COUNT_RULE: 2,
    RETRY_HOURS_RULE: 24,
    LOT_THRESHOLD_RULE: 3,
    LOT_WINDOW_RULE: 30,
}

REACTION_SOURCE = ("operating-plan-2026 一(三)2",)
EVALUATION_SOURCE = ("operations-procedure 三.4",)

# (kind, window opens after, due after): short term 1–3 months, long term 3–6 months.
EVALUATIONS: tuple[tuple[str, FollowUpOffset, FollowUpOffset], ...] = (
    (FollowUpKind.EVALUATION_SHORT, FollowUpOffset(1, "m"), FollowUpOffset(3, "m")),
    (FollowUpKind.EVALUATION_LONG, FollowUpOffset(3, "m"), FollowUpOffset(6, "m")),
)


@dataclass(frozen=True, slots=True)
class Clock:
    grade: str
    within: dt.timedelta  # from the report to the deadline
    warn_before: dt.timedelta  # the "about to run out" notice this long before the deadline
    required: frozenset[str]  # the steps that stop the clock
    sources: tuple[str, ...] = REACTION_SOURCE

    @property
    def citations(self) -> tuple[Citation, ...]:
        return cites(*self.sources)

    def source(self, lang: str | None = "zh-hans") -> str:
        return source_text(self.citations, lang)

    def missing(self, recorded: set[str]) -> list[str]:
        return [k for k in StepKind.values if k in self.required and k not in recorded]


CLOCKS: dict[str, Clock] = {
    ReactionGrade.MILD: Clock(
        ReactionGrade.MILD,
        dt.timedelta(hours=48),
        dt.timedelta(hours=4),
        frozenset({StepKind.GUIDANCE, StepKind.RESOLVED}),
    ),
    ReactionGrade.MODERATE: Clock(
        ReactionGrade.MODERATE,
        dt.timedelta(hours=2),
        dt.timedelta(minutes=30),
        frozenset({StepKind.REVISIT}),
    ),
    ReactionGrade.SEVERE: Clock(
        ReactionGrade.SEVERE,
        dt.timedelta(minutes=30),
        dt.timedelta(minutes=30),  # the alert goes out with the report itself
        frozenset({StepKind.MDT, StepKind.EMERGENCY}),
    ),
}


def evaluation_source(lang: str | None = "zh-hans") -> str:
    return source_text(cites(*EVALUATION_SOURCE), lang)


def next_state(attempts: int, retry_count: int) -> str:
    """After one more missed attempt: retry while attempts ≤ retries, then lost to follow-up."""
    from .choices import FollowUpStatus

    return FollowUpStatus.MISSED if attempts <= retry_count else FollowUpStatus.LOST
