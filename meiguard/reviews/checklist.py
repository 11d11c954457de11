"""Build a campaign's checklist from data: one function per category, each returning ``Derived`` items.

The functions read plain rows of ONE institution, which the caller has already resolved through
``visible_to`` / the campaign's access check; they never write. ``actions.rebuild_checklist`` merges
their output into the stored items by ``key``, so building twice changes nothing and recorded findings
survive a rebuild.

1. ``denied_decisions``  decision-log rows in the period denied for scope or authorization-validity
   reasons (``SCOPE_CODES`` / ``VALIDITY_CODES``), grouped by practitioner + procedure, with counts.
2. ``expiring_in_use``   active authorizations ending within 60 days (bucketed 30 / 60) that allowed
   decisions used in the last 90 days, unless an active renewal already follows them.
3. ``training_short``    doctors short of CME credits for the year (PR-08: the pack's
   ``cme_credits_per_year``, Class I ≥ 5 and Class II ≥ 15, not interchangeable) and nurses short of
   the pack's ``nurse_training_hours`` (an institution requirement, not national law).
4. ``monthly_checks``    the fixed monthly internal-check items of the quarter, from the institution
   practice in seeds 000 and 004 (labelled as practice, not national law).
5. ``inventory_checks``  the quarter's stock and usage: lots used after expiry or while recalled, usages not
   recorded by scan, open reconciliation discrepancies and alerts, devices overdue for upkeep (one item each).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meiguard.authz.choices import AuthorizationKind, AuthorizationStatus
from meiguard.authz.models import Authorization, DecisionLog
from meiguard.authz.queries import staff_checks
from meiguard.registry.choices import CreditClass, PractitionerStatus, QualificationKind, VerificationStatus
from meiguard.registry.models import DOCTOR_PROFESSIONS, Device, Institution, Lot, Practitioner, Qualification
from meiguard.rules.choices import Profession, Subject
from meiguard.rules.services import NoActivePack, ResolvedPack, resolve
from meiguard.rules.sources import cites, source_text

from .choices import ItemCategory
from .periods import Quarter

# ---- reason codes that make a denied decision a review item -------------------------------------

# 超范围: the procedure is outside what the institution, the person or their authorizations cover.
SCOPE_CODES = frozenset(
    {
        "SUBJECT_NOT_REGISTERED",
        "PROCEDURE_GRADE_EXCEEDS_INSTITUTION",
        "PROFESSION_NOT_PERMITTED",
        "PRACTITIONER_SCOPE_NOT_ACCEPTED",
        "NURSE_PROCEDURE_NOT_PERMITTED",
        "AUTHORIZATION_MISSING",
        "AUTHORIZATION_GRADE_LIMIT",
        "PRODUCT_AUTHORIZATION_MISSING",
        "DEVICE_AUTHORIZATION_MISSING",
    }
)
# An authorization existed but was not in force: expired, suspended, revoked, not yet valid or a draft.
VALIDITY_CODES = frozenset(
    {
        "AUTHORIZATION_EXPIRED",
        "AUTHORIZATION_SUSPENDED",
        "AUTHORIZATION_REVOKED",
        "AUTHORIZATION_NOT_YET_VALID",
        "AUTHORIZATION_NOT_ACTIVE",
    }
)
REVIEW_CODES = SCOPE_CODES | VALIDITY_CODES

REASON_LABELS: dict[str, Any] = {
    "SUBJECT_NOT_REGISTERED": _("超出登记诊疗科目"),
    "PROCEDURE_GRADE_EXCEEDS_INSTITUTION": _("超出机构手术级别"),
    "PROFESSION_NOT_PERMITTED": _("职业类别不得实施"),
    "PRACTITIONER_SCOPE_NOT_ACCEPTED": _("执业范围不符"),
    "NURSE_PROCEDURE_NOT_PERMITTED": _("护士不得实施"),
    "AUTHORIZATION_MISSING": _("无项目授权"),
    "AUTHORIZATION_GRADE_LIMIT": _("超出授权级别"),
    "PRODUCT_AUTHORIZATION_MISSING": _("无产品授权"),
    "DEVICE_AUTHORIZATION_MISSING": _("无设备授权"),
    "AUTHORIZATION_EXPIRED": _("授权已到期"),
    "AUTHORIZATION_SUSPENDED": _("授权已暂停"),
    "AUTHORIZATION_REVOKED": _("授权已撤销"),
    "AUTHORIZATION_NOT_YET_VALID": _("授权尚未生效"),
    "AUTHORIZATION_NOT_ACTIVE": _("授权未生效(草稿)"),
}

DECISION_IDS_KEPT = 50  # evidence keeps the first ids; ``evidence_count`` has the full count
EXPIRY_WINDOWS = (30, 60)
USE_LOOKBACK_DAYS = 90

# PR-08 [S06]: of the yearly credits, Class I 5–10 and Class II 15–20; the two cannot substitute.
# The pack carries the yearly total as data (``cme_credits_per_year``); the class minimums only as a note.
CME_MIN_CLASS_I = Decimal(5)
CME_MIN_CLASS_II = Decimal(15)
CME_METRIC = "cme_credits_per_year"
NURSE_HOURS_METRIC = "nurse_training_hours"

# ---- monthly internal checks (institution practice, not national law) ---------------------------


def _cite(*texts: str) -> str:
    """The readable citation line of register entries (stored on review items, max 120 characters)."""
    return source_text(cites(*texts))[:120]


@dataclass(frozen=True, slots=True)
class MonthlyCheck:
    code: str
    label: Any
    description: Any
    source: str


MONTHLY_CHECKS: tuple[MonthlyCheck, ...] = (
    MonthlyCheck(
        "authorization_archive",
        _("授权档案核对"),
        _("逐项核对本月开展的项目与授权档案是否一致,有无超范围授权操作、过期或暂停后仍在开展的项目。"),
        _cite("authorization-practice-guide 每月检查授权执行情况"),
    ),
    MonthlyCheck(
        "high_risk_drugs",
        _("高风险药品对账"),
        _("A型肉毒毒素、透明质酸等高风险药品专库专柜、双人双锁,核对批号追踪与使用量、库存量是否相符。"),
        _cite("operating-plan-2026 二(一)2", "toxic-drug-regulation"),
    ),
    MonthlyCheck(
        "device_inspection",
        _("设备检查校准"),
        _("能量设备每月巡检;核对检查、校准记录与到期日,校验不合格的设备停用并记录。"),
        _cite("operating-plan-2026 二(一)1", "device-use-rules"),
    ),
    MonthlyCheck(
        "adverse_events",
        _("不良事件上报"),
        _(
            "核对本月不良反应/不良事件是否按分级响应处置并在时限内上报"
            "(上报时限为国家规定:医疗器械不良事件、医疗质量安全事件)。"
        ),
        _cite("operating-plan-2026 一(三)2", "device-ae-rules", "quality-event-reporting-2011"),
    ),
)
MONTHLY_BY_CODE = {c.code: c for c in MONTHLY_CHECKS}


# ---- the derived item ---------------------------------------------------------------------------

# The stored fields a rebuild refreshes (status, note and findings are the reviewer's and are kept).
ITEM_FIELDS = (
    "category",
    "evidence",
    "evidence_count",
    "practitioner_id",
    "authorization_id",
    "qualification_id",
    "procedure_code",
    "decision_ids",
    "source",
    "institution_practice",
    "month",
    "check_code",
)


@dataclass(frozen=True)
class Derived:
    key: str
    category: str
    evidence: dict[str, Any]
    evidence_count: int = 0
    practitioner_id: int | None = None
    authorization_id: int | None = None
    qualification_id: int | None = None
    procedure_code: str = ""
    decision_ids: tuple[int, ...] = ()
    source: str = ""
    institution_practice: bool = False
    month: int | None = None
    check_code: str = ""

    def values(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in ITEM_FIELDS}
        out["decision_ids"] = list(self.decision_ids)
        return out


def _day_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in China time: validity and periods are China calendar days."""
    tz = timezone.get_default_timezone()
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


def _pack(institution: Institution, on: dt.date) -> ResolvedPack | None:
    try:
        return resolve(institution.province, on, institution.pk)
    except NoActivePack:
        return None


def _names(ids: Iterable[int]) -> dict[int, str]:
    return dict(Practitioner.objects.filter(pk__in=set(ids)).values_list("pk", "name"))


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return text


# ---- 1. denied for scope or authorization validity ----------------------------------------------


def _authorization_ids(reasons: list[dict[str, Any]]) -> set[int]:
    out: set[int] = set()
    for r in reasons or ():
        if r.get("code") not in VALIDITY_CODES:
            continue
        for key, value in r.get("facts") or ():
            if key == "authorization" and str(value).isdigit():
                out.add(int(value))
    return out


def denied_decisions(institution: Institution, start: dt.date, end: dt.date) -> list[Derived]:
    """Denied decisions in [start, end] whose reasons include a scope or validity code, per person+procedure."""
    lo, hi = _day_range(start, end)
    rows = (
        staff_checks(
            DecisionLog.objects.filter(institution_id=institution.pk, outcome="deny", at__gte=lo, at__lt=hi)
        )
        .order_by("at", "pk")
        .values_list("pk", "practitioner_id", "procedure_code", "at", "reason_codes", "reasons")
    )
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for pk, person, code, at, reason_codes, reasons in rows.iterator(chunk_size=2000):
        hit = [c for c in (reason_codes or ()) if c in REVIEW_CODES]
        if not hit:
            continue
        g = groups.setdefault(
            (person, code),
            {"ids": [], "count": 0, "codes": Counter(), "auths": set(), "first": at, "last": at},
        )
        g["count"] += 1
        g["codes"].update(hit)
        g["auths"] |= _authorization_ids(reasons)
        g["last"] = at
        if len(g["ids"]) < DECISION_IDS_KEPT:
            g["ids"].append(pk)
    if not groups:
        return []
    names = _names(p for p, _c in groups)
    pack = _pack(institution, end)
    tz = timezone.get_default_timezone()
    out = []
    for (person, code), g in sorted(groups.items(), key=lambda kv: (-kv[1]["count"], kv[0])):
        proc = pack.procedures.get(code) if pack is not None else None
        counted: Counter[str] = g["codes"]
        auths = sorted(g["auths"])
        out.append(
            Derived(
                key=f"denied:{person}:{code}"[:120],
                category=ItemCategory.DENIED_DECISIONS,
                practitioner_id=person,
                authorization_id=auths[0] if len(auths) == 1 else None,
                procedure_code=code,
                decision_ids=tuple(g["ids"]),
                evidence_count=g["count"],
                evidence={
                    "practitioner": names.get(person, f"#{person}"),
                    "procedure": code,
                    "procedure_name": proc.name_zh if proc else code,
                    "procedure_name_en": proc.name_en if proc else "",
                    "count": g["count"],
                    "codes": dict(sorted(counted.items())),
                    "scope": sum(n for c, n in counted.items() if c in SCOPE_CODES),
                    "validity": sum(n for c, n in counted.items() if c in VALIDITY_CODES),
                    "authorizations": auths,
                    "first_at": g["first"].astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    "last_at": g["last"].astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                },
                source=_cite("measures 第十七条", "grading-reply-wuhan"),
            )
        )
    return out


# ---- 2. about to lapse while still in use ---------------------------------------------------------


def _scope_label(auth: Authorization, pack: ResolvedPack | None) -> str:
    if auth.procedure_code:
        proc = pack.procedures.get(auth.procedure_code) if pack else None
        return proc.name_zh if proc else auth.procedure_code
    return (
        auth.procedure_category
        or str(dict(Subject.choices).get(auth.subject, auth.subject))
        or auth.product_brand
        or auth.device_model
        or auth.technology_name
    )


def _scope_label_en(auth: Authorization, pack: ResolvedPack | None) -> str:
    """The English procedure name where the pack has one (other scopes are names, shown as they are)."""
    proc = pack.procedures.get(auth.procedure_code) if (pack and auth.procedure_code) else None
    return proc.name_en if proc else ""


def _covers(auth: Authorization, code: str, pack: ResolvedPack | None) -> bool:
    if auth.procedure_code:
        return auth.procedure_code == code
    proc = pack.procedures.get(code) if pack else None
    if proc is None:
        return False
    if auth.procedure_category:
        return auth.procedure_category == proc.category and auth.subject in ("", proc.subject)
    return bool(auth.subject) and auth.subject == proc.subject


def expiring_in_use(
    institution: Institution,
    on: dt.date,
    *,
    horizon_days: int = EXPIRY_WINDOWS[-1],
    lookback_days: int = USE_LOOKBACK_DAYS,
) -> list[Derived]:
    """Active authorizations ending within ``horizon_days`` of ``on`` that allowed decisions in the last
    ``lookback_days``; an authorization already followed by an active renewal is not a risk."""
    renewed = Authorization.objects.filter(renews_id__isnull=False, status=AuthorizationStatus.ACTIVE).values(
        "renews_id"
    )
    auths = list(
        Authorization.objects.filter(
            institution_id=institution.pk,
            status=AuthorizationStatus.ACTIVE,
            practitioner__isnull=False,
            valid_until__gte=on,
            valid_until__lte=on + dt.timedelta(days=horizon_days),
        )
        .exclude(kind=AuthorizationKind.TECHNOLOGY)
        .exclude(pk__in=renewed)
        .select_related("practitioner")
        .order_by("valid_until", "pk")
    )
    if not auths:
        return []
    lo, hi = _day_range(on - dt.timedelta(days=lookback_days), on)
    uses = list(
        staff_checks(
            DecisionLog.objects.filter(
                institution_id=institution.pk,
                practitioner_id__in={a.practitioner_id for a in auths},
                outcome__in=("allow", "allow_with_warnings"),
                at__gte=lo,
                at__lt=hi,
            )
        )
        .order_by("at", "pk")
        .values_list("pk", "practitioner_id", "procedure_code", "at", "request")
    )
    needs_brands = any(a.kind in (AuthorizationKind.PRODUCT, AuthorizationKind.DEVICE) for a in auths)
    lot_brand: dict[int, str] = {}
    device_brand: dict[int, str] = {}
    if needs_brands and uses:
        lot_ids = {p.get("lot_id") for *_r, req in uses for p in (req or {}).get("products", ())}
        dev_ids = {d for *_r, req in uses for d in (req or {}).get("device_ids", ())}
        lot_brand = dict(
            Lot.objects.filter(pk__in=[i for i in lot_ids if i]).values_list("pk", "product__brand_name")
        )
        device_brand = dict(Device.objects.filter(pk__in=dev_ids).values_list("pk", "product__brand_name"))
    pack = _pack(institution, on)
    tz = timezone.get_default_timezone()
    out = []
    for auth in auths:
        hits = []
        for pk, person, code, at, req in uses:
            if person != auth.practitioner_id:
                continue
            if auth.kind == AuthorizationKind.QUALIFICATION:
                used = _covers(auth, code, pack)
            elif auth.kind == AuthorizationKind.PRODUCT:
                used = any(
                    lot_brand.get(p.get("lot_id")) == auth.product_brand for p in req.get("products", ())
                )
            else:
                used = any(device_brand.get(d) == auth.device_model for d in req.get("device_ids", ()))
            if used:
                hits.append((pk, at))
        if not hits:
            continue
        assert auth.valid_until is not None and auth.practitioner is not None
        days_left = (auth.valid_until - on).days
        window = (
            next(w for w in EXPIRY_WINDOWS if days_left <= w) if days_left <= horizon_days else horizon_days
        )
        out.append(
            Derived(
                key=f"expiring:{auth.pk}",
                category=ItemCategory.EXPIRING_IN_USE,
                practitioner_id=auth.practitioner_id,
                authorization_id=auth.pk,
                procedure_code=auth.procedure_code,
                decision_ids=tuple(pk for pk, _at in hits[-DECISION_IDS_KEPT:]),
                evidence_count=len(hits),
                evidence={
                    "practitioner": auth.practitioner.name,
                    "authorization": auth.pk,
                    "kind": auth.kind,
                    "scope": _scope_label(auth, pack),
                    "scope_en": _scope_label_en(auth, pack),
                    "valid_until": auth.valid_until.isoformat(),
                    "days_left": days_left,
                    "window": window,
                    "uses": len(hits),
                    "lookback": lookback_days,
                    "last_used": hits[-1][1].astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                },
                source="授权档案有效期;核验记录",
            )
        )
    return out


# ---- 3. CME credits and training hours ------------------------------------------------------------


def _registered_at(institution: Institution, on: dt.date) -> Q:
    site = Q(
        sites__institution_id=institution.pk,
        sites__valid_from__lte=on,
    ) & (Q(sites__valid_until__isnull=True) | Q(sites__valid_until__gte=on))
    return Q(main_institution_id=institution.pk) | site


def training_short(institution: Institution, year: int, on: dt.date) -> list[Derived]:
    """Doctors short of the year's CME credits (total or per class) and nurses short of training hours.

    People are those registered at the institution (main or a valid multi-site) on ``on`` and not left.
    Rejected records do not count; unverified ones do (as the decision engine counts them).
    """
    pack = _pack(institution, on)
    if pack is None:
        return []
    cme = pack.requirement(CME_METRIC)
    hours_rule = pack.requirement(NURSE_HOURS_METRIC)
    people = list(
        Practitioner.objects.filter(_registered_at(institution, on))
        .exclude(status=PractitionerStatus.LEFT)
        .filter(profession__in=[*DOCTOR_PROFESSIONS, Profession.NURSE])
        .distinct()
        .order_by("name", "pk")
    )
    if not people:
        return []
    quals: dict[int, list[Qualification]] = defaultdict(list)
    for q in (
        Qualification.objects.filter(
            practitioner_id__in=[p.pk for p in people],
            kind__in=[QualificationKind.CME_CREDITS, QualificationKind.NURSE_TRAINING_HOURS],
        )
        .exclude(verification_status=VerificationStatus.REJECTED)
        .order_by("pk")
    ):
        quals[q.practitioner_id].append(q)
    out: list[Derived] = []
    for person in people:
        mine = quals.get(person.pk, [])
        if person.profession in DOCTOR_PROFESSIONS and cme is not None:
            rows = [q for q in mine if q.kind == QualificationKind.CME_CREDITS and q.year == year]
            by_class = {
                c: sum((q.credits or Decimal(0) for q in rows if q.credit_class == c), Decimal(0))
                for c in CreditClass
            }
            total = sum(by_class.values(), Decimal(0))
            required = Decimal(str(cme.value))
            short = (
                total < required
                or by_class[CreditClass.CLASS_I] < CME_MIN_CLASS_I
                or by_class[CreditClass.CLASS_II] < CME_MIN_CLASS_II
            )
            if short:
                out.append(
                    Derived(
                        key=f"cme:{person.pk}:{year}",
                        category=ItemCategory.TRAINING_SHORT,
                        practitioner_id=person.pk,
                        qualification_id=rows[-1].pk if rows else None,
                        evidence_count=len(rows),
                        evidence={
                            "kind": "cme",
                            "practitioner": person.name,
                            "year": year,
                            "total": _fmt(total),
                            "class_i": _fmt(by_class[CreditClass.CLASS_I]),
                            "class_ii": _fmt(by_class[CreditClass.CLASS_II]),
                            "required_total": _fmt(required),
                            "required_i": _fmt(CME_MIN_CLASS_I),
                            "required_ii": _fmt(CME_MIN_CLASS_II),
                            "rule": cme.rule_id,
                        },
                        source=cme.rule.source,
                        institution_practice=cme.level == "institution",
                    )
                )
        if person.profession == Profession.NURSE and hours_rule is not None:
            rows = [q for q in mine if q.kind == QualificationKind.NURSE_TRAINING_HOURS]
            hours = sum((q.hours or Decimal(0) for q in rows), Decimal(0))
            required = Decimal(str(hours_rule.value))
            if hours < required:
                out.append(
                    Derived(
                        key=f"nurse_hours:{person.pk}",
                        category=ItemCategory.TRAINING_SHORT,
                        practitioner_id=person.pk,
                        qualification_id=rows[-1].pk if rows else None,
                        evidence_count=len(rows),
                        evidence={
                            "kind": "nurse_hours",
                            "practitioner": person.name,
                            "hours": _fmt(hours),
                            "required": _fmt(required),
                            "rule": hours_rule.rule_id,
                        },
                        source=hours_rule.rule.source,
                        institution_practice=hours_rule.level == "institution",
                    )
                )
    return out


# ---- 4. monthly internal checks -----------------------------------------------------------------


def monthly_checks(quarter: Quarter) -> list[Derived]:
    """The fixed internal-check items for each month of the quarter (institution practice, seeds 000/004)."""
    return [
        Derived(
            key=f"monthly:{quarter.year}-{month:02d}:{check.code}",
            category=ItemCategory.MONTHLY_CHECK,
            month=month,
            check_code=check.code,
            evidence={"year": quarter.year, "month": month, "check": check.code},
            source=check.source,
            institution_practice=True,
        )
        for month in quarter.months
        for check in MONTHLY_CHECKS
    ]


# ---- 5. inventory: stock and usage of the quarter ------------------------------------------------

# What each inventory item cites (the sources register): expiry and recall (DD-08, DD-09), scan (DD-06),
# the high-risk reconciliation (DD-01), device upkeep (DD-08).
INVENTORY_SOURCES = {
    "expired_use": ("device-use-rules",),
    "recalled_use": ("device-recall-rules",),
    "not_scanned": ("trace-code-notice-2025",),
    "open_discrepancies": ("toxin-notice-2008", "toxic-drug-regulation"),
    "open_alerts": ("trace-code-notice-2025",),
    "devices_overdue": ("device-use-rules",),
}
INVENTORY_ORDER = (
    "expired_use",
    "recalled_use",
    "not_scanned",
    "open_discrepancies",
    "open_alerts",
    "devices_overdue",
)


def inventory_checks(institution: Institution, quarter: Quarter, on: dt.date) -> list[Derived]:
    """One item per inventory check of the quarter, always present (the reviewer confirms a zero): lots used
    after expiry or while recalled, usages not recorded by scanning, open reconciliation discrepancies, open
    counterfeit/diversion alerts, in-service devices overdue for inspection or calibration on ``on``."""
    from meiguard.equipment.choices import UpkeepState
    from meiguard.equipment.queries import state_filter
    from meiguard.inventory.reports import quarter_facts

    facts = quarter_facts(institution.pk, quarter.start, quarter.end)
    late = Device.objects.filter(institution=institution).filter(state_filter(UpkeepState.OVERDUE, on))
    facts["devices_overdue"] = {
        "count": late.count(),
        "examples": [
            f"{name} {serial}".strip()
            for name, serial in late.values_list("product__brand_name", "serial_no")[:10]
        ],
    }
    out = []
    for check in INVENTORY_ORDER:
        found = facts[check]
        examples = [str(e) for e in found.get("examples", [])]
        out.append(
            Derived(
                key=f"inventory:{quarter.year}-Q{quarter.quarter}:{check}",
                category=ItemCategory.INVENTORY,
                check_code=check,
                evidence={
                    "check": check,
                    "count": found["count"],
                    "total": found.get("total", found["count"]),
                    "examples": "、".join(examples) if examples else "—",
                    "on": on.isoformat(),
                },
                evidence_count=found["count"],
                source=_cite(*INVENTORY_SOURCES[check]),
            )
        )
    return out


# ---- all of it ------------------------------------------------------------------------------------


def as_of(quarter: Quarter, today: dt.date) -> dt.date:
    """The day "expiring" and "registered" are measured on: today, or the quarter's end once it is over."""
    return min(today, quarter.end)


def cme_year(quarter: Quarter) -> int:
    """CME is counted per calendar year: the campaign's year (documented: early quarters show progress)."""
    return quarter.year


def derive(institution: Institution, quarter: Quarter, today: dt.date) -> list[Derived]:
    on = as_of(quarter, today)
    return [
        *denied_decisions(institution, quarter.start, quarter.end),
        *expiring_in_use(institution, on),
        *training_short(institution, cme_year(quarter), on),
        *monthly_checks(quarter),
        *inventory_checks(institution, quarter, on),
    ]
