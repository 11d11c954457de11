"""The regulatory report clocks of incidents and where each comes from (docs/aftercare.md, "Incidents and
regulatory reports"). Pure: no ORM, no clock.

Every clock runs from the moment the event was **discovered** (``discovered_at``):

- Medical device adverse events (RP-01, 《医疗器械不良事件监测和再评价管理办法》): death 7 days; serious injury (or
  risk of serious injury or death) 20 days; a cluster (群体不良事件) 12 hours by phone/fax plus online.
- Adverse drug reactions (RP-02, 《药品不良反应报告和监测管理办法》): death at once; serious or new 15 days; others
  30 days; a cluster at once. "At once" (立即) is measured as **30 minutes**, like the severe reaction's clock in
  ``aftercare.policy`` (a product default — the text says only 立即).
- Medical quality-safety events (RP-03, 《医疗质量安全事件报告暂行规定》): general 15 days; major 12 hours;
  extra-major 2 hours.
- A hazard (隐患, grade IV, no harm) has no regulatory report: it is handled inside the institution.

The "about to run out" notice goes out when **75 %** of a clock has elapsed (a product choice: 5¼ d of 7 d,
15 d of 20 d, 9 h of 12 h, 22½ min of 30 min …), the escalation at the deadline — each once.

The internal grades I 警讯 / II 不良后果 / III 未造成后果 / IV 隐患 are a common internal grading whose origin is
unconfirmed; the source text says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from meiguard.rules.sources import Citation, cites, source_text

from .choices import IncidentGrade, IncidentKind, Severity

AT_ONCE = dt.timedelta(minutes=30)  # 立即: measured as 30 minutes (product default)
WARN_FRACTION = 0.75  # the warning when three quarters of the clock have elapsed

# Cited as REGULATIONS.md sources them: RP-01 [S26], RP-02 [S28], RP-03 [S29] name the documents (the drug rules
# with their articles); RP-04 gives Art. 25 with its number unconfirmed (docs/aftercare.md says so).
DEVICE_INDIVIDUAL = ("device-ae-rules",)
DEVICE_CLUSTER = ("device-ae-rules",)
DRUG_INDIVIDUAL = ("adr-rules 第二十一条",)
DRUG_CLUSTER = ("adr-rules 第二十七条",)
QUALITY = ("quality-event-reporting-2011",)
GRADING = ("incident-grading-practice",)
SEALING = ("dispute-regulation 第二十五条", "accident-regulation")


@dataclass(frozen=True, slots=True)
class ReportClock:
    id: str  # stored on the incident (``report_clock``)
    kind: str  # the incident kind it applies to
    severity: str  # "" for cluster clocks
    within: dt.timedelta
    sources: tuple[str, ...]
    cluster: bool = False

    @property
    def warn_after(self) -> dt.timedelta:
        return self.within * WARN_FRACTION

    def due(self, discovered_at: dt.datetime) -> dt.datetime:
        return discovered_at + self.within

    def warn_at(self, discovered_at: dt.datetime) -> dt.datetime:
        return discovered_at + self.warn_after

    @property
    def citations(self) -> tuple[Citation, ...]:
        return cites(*self.sources)

    def source(self, lang: str | None = "zh-hans") -> str:
        return source_text(self.citations, lang)


_D = dt.timedelta
CLOCKS: dict[str, ReportClock] = {
    c.id: c
    for c in (
        ReportClock("device-death", IncidentKind.DEVICE_AE, Severity.DEATH, _D(days=7), DEVICE_INDIVIDUAL),
        ReportClock(
            "device-serious", IncidentKind.DEVICE_AE, Severity.SERIOUS, _D(days=20), DEVICE_INDIVIDUAL
        ),
        ReportClock("device-cluster", IncidentKind.DEVICE_AE, "", _D(hours=12), DEVICE_CLUSTER, cluster=True),
        ReportClock("drug-death", IncidentKind.DRUG_ADR, Severity.DEATH, AT_ONCE, DRUG_INDIVIDUAL),
        ReportClock(
            "drug-serious", IncidentKind.DRUG_ADR, Severity.SERIOUS_OR_NEW, _D(days=15), DRUG_INDIVIDUAL
        ),
        ReportClock("drug-other", IncidentKind.DRUG_ADR, Severity.OTHER, _D(days=30), DRUG_INDIVIDUAL),
        ReportClock("drug-cluster", IncidentKind.DRUG_ADR, "", AT_ONCE, DRUG_CLUSTER, cluster=True),
        ReportClock(
            "quality-extra-major", IncidentKind.QUALITY_EVENT, Severity.EXTRA_MAJOR, _D(hours=2), QUALITY
        ),
        ReportClock("quality-major", IncidentKind.QUALITY_EVENT, Severity.MAJOR, _D(hours=12), QUALITY),
        ReportClock("quality-general", IncidentKind.QUALITY_EVENT, Severity.GENERAL, _D(days=15), QUALITY),
    )
}


def clock_for(kind: str, severity: str, *, cluster: bool = False) -> ReportClock | None:
    """The report clock of an incident, or None when no regulatory report is required (a hazard; a device event
    that caused no serious injury — the measures set no deadline for it, it is reported through the registrant
    as the institution's practice says)."""
    for c in CLOCKS.values():
        if c.kind != kind:
            continue
        if cluster and c.cluster:
            return c
        if not cluster and not c.cluster and c.severity == severity:
            return c
    return None


def grading_source(lang: str | None = "zh-hans") -> str:
    return source_text(cites(*GRADING), lang)


def sealing_source(lang: str | None = "zh-hans") -> str:
    return source_text(cites(*SEALING), lang)


def is_serious(grade: str) -> bool:
    return grade in (IncidentGrade.I, IncidentGrade.II)


# Cluster detection (institution policy, ``rules.institution.AFTERCARE_SETTINGS``).
CLUSTER_THRESHOLD_RULE = "INST.cluster-threshold"
CLUSTER_WINDOW_RULE = "INST.cluster-window-hours"
CLUSTER_RULES = (CLUSTER_THRESHOLD_RULE, CLUSTER_WINDOW_RULE)
CLUSTER_DEFAULTS: dict[str, int] = {CLUSTER_THRESHOLD_RULE: 3, CLUSTER_WINDOW_RULE: 72}
