"""Public read API of the rules app: resolve the rule pack in force, derive facts, diff versions.

Other apps (registry, authz, clinical) use only the names in this module:

- ``resolve(province, on)`` -> ``ResolvedPack``: the newest published national version effective on
  ``on`` with the province's overlay (if any) applied on top. One query (which versions are in force);
  the build is cached in-process by those versions' ids and checksums, so it needs no invalidation.
- ``current_generation()`` / ``bump_generation()``: the database-wide rules generation. Whatever a process
  caches from rule packs beyond ``resolve`` (the decision engine's memo) is keyed by it; every transaction
  that publishes rules bumps it, so all processes see the change when that transaction commits.
- ``derive_permitted_grade(...)`` -> ``GradeDerivation``: the highest surgical grade an institution
  may perform (IN-03), with the rule it came from.
- ``diff_versions(a, b)`` -> ``VersionDiff``: added / removed / changed rules between two versions.
"""

from __future__ import annotations

import calendar
import datetime as dt
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

from django.db.models import F, Q, Subquery
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from meiguard.core.errors import ActionError
from meiguard.lib.fixedsql import FixedQuery

from .choices import (
    PROVINCES,
    SUBJECT_BY_ZH,
    TITLE_RANK,
    Jurisdiction,
    RuleKind,
    RuleOp,
    Title,
    VersionStatus,
)
from .models import Rule, RulePackVersion, RulesGeneration
from .packfile import ANY_INSTITUTION, PROCEDURE_PREFIX
from .sources import Citation, citation_from_json, source_text

NATIONAL_PACK = "cn-national"
TEMPLATE_PACK = "inst-template"


def institution_pack_code(institution_id: int) -> str:
    """The code of an institution's own policy pack (本机构规范)."""
    return f"inst-{institution_id}"


# --------------------------------------------------------------------------------------------
# Value objects


@dataclass(frozen=True, slots=True)
class RuleRef:
    """Which rule a fact came from: stored on decisions so they can be replayed and explained.

    ``source`` is the readable citation line (Chinese); ``citations`` the documents it rests on (title,
    issuer, number, article, kind — from the sources register); ``layer`` the layer of the rule
    (national / provincial / institution) and ``pack_name`` the readable name of its pack.
    """

    pack: str
    version: int
    rule_id: str
    source: str
    citations: tuple[Citation, ...] = ()
    layer: str = ""
    pack_name: str = ""
    pack_name_en: str = ""

    def __str__(self) -> str:
        return f"{self.pack_label} · {self.source}"

    @property
    def pack_label(self) -> str:
        """'全国基线 v1', '北京 v1', '本机构规范 v3' in the active language (the code if no name was recorded)."""
        name = (self.pack_name_en or self.pack_name) if _in_english() else self.pack_name
        return f"{name or self.pack} v{self.version}"

    @property
    def source_text(self) -> str:
        """The citations as one readable line in the active language."""
        return source_text(self.citations, translation.get_language()) if self.citations else self.source

    def as_dict(self) -> dict[str, Any]:
        """The structured citation the API returns (active language; computed once per reference and
        language — every decision repeats the same few dozen references). Callers must not mutate it."""
        return _ref_dict(self, translation.get_language() or "")


@lru_cache(maxsize=8192)
def _ref_dict(ref: RuleRef, lang: str) -> dict[str, Any]:
    return {
        "pack": ref.pack,
        "version": ref.version,
        "rule_id": ref.rule_id,
        "layer": ref.layer,
        "pack_label": ref.pack_label,
        "source": ref.source_text,
        "citations": [c.as_dict(lang) for c in ref.citations],
    }


@dataclass(frozen=True, slots=True)
class GradeDerivation:
    grade: int  # 0 = no graded surgery allowed
    rule: RuleRef


class NoActivePack(ActionError):
    """No published national rule pack is effective on the date asked about."""

    def __init__(self, province: str, on: dt.date):
        super().__init__(
            "NO_ACTIVE_RULE_PACK",
            format_lazy(
                _("{on} 没有已发布并生效的全国规则包(省份:{province})"),
                on=on.isoformat(),
                province=province or "-",
            ),
            status=409,
        )
        self.province = province
        self.on = on


@dataclass(frozen=True, slots=True)
class VersionInfo:
    pk: int
    pack: str
    version: int
    effective_from: dt.date | None
    checksum: str
    layer: str = Jurisdiction.NATIONAL
    name: str = ""
    name_en: str = ""

    @property
    def label(self) -> str:
        return f"{self.pack} v{self.version}"

    @property
    def display_label(self) -> str:
        return f"{self.name or self.pack} v{self.version}"

    @property
    def display_label_en(self) -> str:
        return f"{self.name_en or self.name or self.pack} v{self.version}"


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _in_english() -> bool:
    return (translation.get_language() or "").startswith("en")


@dataclass(frozen=True, slots=True)
class ResolvedRule:
    rule_id: str
    kind: str
    title: str
    title_en: str
    source: str
    level: str
    adjustable: bool
    confirmed: bool
    note: str
    data: Mapping[str, Any]
    ref: RuleRef

    @property
    def display_title(self) -> str:
        return self.title_en if (self.title_en and _in_english()) else self.title


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    subject: str
    category: str
    name_zh: str
    name_en: str
    grade: int | None
    invasiveness: str
    anesthesia_max: str | None
    confirmed: bool
    catalog_status: str
    rule: RuleRef

    @property
    def is_graded(self) -> bool:
        return self.grade is not None

    @property
    def name(self) -> str:
        return self.name_en if (self.name_en and _in_english()) else self.name_zh


@dataclass(frozen=True, slots=True)
class Limit:
    rule_id: str
    metric: str
    max_value: Decimal
    unit: str
    product_kind: str
    procedures: tuple[str, ...]
    level: str
    adjustable: bool
    rule: RuleRef

    def applies_to(self, *, procedure_code: str | None = None, product_kind: str | None = None) -> bool:
        return bool(
            (procedure_code and procedure_code in self.procedures)
            or (product_kind and product_kind == self.product_kind)
        )


@dataclass(frozen=True, slots=True)
class FollowUpOffset:
    amount: int
    unit: str  # h, d, w, m (calendar months)

    @classmethod
    def parse(cls, text: str) -> FollowUpOffset:
        return cls(int(text[:-1]), text[-1])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def due(self, start: dt.datetime) -> dt.datetime:
        if self.unit == "h":
            return start + dt.timedelta(hours=self.amount)
        if self.unit == "d":
            return start + dt.timedelta(days=self.amount)
        if self.unit == "w":
            return start + dt.timedelta(weeks=self.amount)
        month_index = start.month - 1 + self.amount
        year, month = start.year + month_index // 12, month_index % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class FollowUpTemplate:
    rule_id: str
    invasiveness: tuple[str, ...]
    schedule: tuple[FollowUpOffset, ...]
    level: str
    adjustable: bool
    rule: RuleRef

    def due_dates(self, start: dt.datetime) -> tuple[dt.datetime, ...]:
        return tuple(offset.due(start) for offset in self.schedule)


@dataclass(frozen=True, slots=True)
class ChiefRequirement:
    """What a 主诊医师 of one subject needs (PR-02, PR-06, provincial extras such as PR-05)."""

    subject: str
    filing_required: bool
    min_years: int
    practice_categories: tuple[str, ...]
    accepted_scopes: tuple[str, ...]
    min_title: str
    training_min_years: Decimal
    clinical_alternative_years: Decimal
    periodic_assessment_required: bool
    registered_in_province: bool
    rules: tuple[RuleRef, ...]

    def title_ok(self, title: str) -> bool:
        return TITLE_RANK.get(Title(title), 0) >= TITLE_RANK.get(Title(self.min_title), 0)

    def scope_ok(self, scopes: Iterable[str]) -> bool:
        return bool(set(scopes) & set(self.accepted_scopes))


@dataclass(frozen=True, slots=True)
class AnesthesiaRequirement:
    grade: int
    anesthesia_max: str
    requires_anesthetist: bool
    rule: RuleRef
    requires_privilege: bool = False  # the anaesthetist needs an anaesthesia privilege here (default false)


@dataclass(frozen=True, slots=True)
class Requirement:
    rule_id: str
    metric: str
    value: Any
    unit: str
    applies_to: str
    level: str
    adjustable: bool
    rule: RuleRef


@dataclass(frozen=True)
class ResolvedPack:
    """The rules in force for one province on one date (national + overlay). Immutable."""

    province: str
    national: VersionInfo
    overlay: VersionInfo | None
    rules: Mapping[str, ResolvedRule]
    warnings: tuple[str, ...] = ()
    institution: VersionInfo | None = None  # the institution layer: its own policy, or the template
    procedures: Mapping[str, Procedure] = field(init=False)
    limits: tuple[Limit, ...] = field(init=False)
    follow_ups: tuple[FollowUpTemplate, ...] = field(init=False)
    by_kind: Mapping[str, tuple[ResolvedRule, ...]] = field(init=False)  # rules_of() without a scan

    def __post_init__(self) -> None:
        procedures = {}
        limits = []
        follow_ups = []
        for rule in self.rules.values():
            d = rule.data
            if rule.kind == RuleKind.PROCEDURE:
                procedures[d["code"]] = Procedure(
                    code=d["code"],
                    subject=d["subject"],
                    category=d["category"],
                    name_zh=d["name_zh"],
                    name_en=d.get("name_en", ""),
                    grade=d.get("grade"),
                    invasiveness=d["invasiveness"],
                    anesthesia_max=d.get("anesthesia_max"),
                    confirmed=rule.confirmed,
                    catalog_status=d.get("catalog_status", ""),
                    rule=rule.ref,
                )
            elif rule.kind == RuleKind.LIMIT:
                limits.append(
                    Limit(
                        rule_id=rule.rule_id,
                        metric=d["metric"],
                        max_value=Decimal(str(d["max_value"])),
                        unit=d["unit"],
                        product_kind=d.get("product_kind", ""),
                        procedures=tuple(d.get("procedures", ())),
                        level=rule.level,
                        adjustable=rule.adjustable,
                        rule=rule.ref,
                    )
                )
            elif rule.kind == RuleKind.FOLLOW_UP:
                follow_ups.append(
                    FollowUpTemplate(
                        rule_id=rule.rule_id,
                        invasiveness=tuple(d["invasiveness"]),
                        schedule=tuple(FollowUpOffset.parse(s) for s in d["schedule"]),
                        level=rule.level,
                        adjustable=rule.adjustable,
                        rule=rule.ref,
                    )
                )
        object.__setattr__(self, "procedures", MappingProxyType(procedures))
        object.__setattr__(self, "limits", tuple(limits))
        object.__setattr__(self, "follow_ups", tuple(follow_ups))
        by_kind: dict[str, list[ResolvedRule]] = {}
        for rule in self.rules.values():
            by_kind.setdefault(rule.kind, []).append(rule)
        object.__setattr__(self, "by_kind", MappingProxyType({k: tuple(v) for k, v in by_kind.items()}))

    # ---- identity

    @property
    def layers(self) -> tuple[VersionInfo, ...]:
        return tuple(v for v in (self.national, self.overlay, self.institution) if v is not None)

    @property
    def version_label(self) -> str:
        """'全国基线 v1 + 北京 v1 + 本机构规范 v3': every layer that applied, by its readable name."""
        return " + ".join(v.display_label for v in self.layers)

    @property
    def version_ids(self) -> tuple[int, int | None, int | None]:
        return (
            self.national.pk,
            self.overlay.pk if self.overlay else None,
            self.institution.pk if self.institution else None,
        )

    # ---- lookups

    def rule(self, rule_id: str) -> ResolvedRule:
        """The rule with this id; ``KeyError`` if the resolved pack has none."""
        return self.rules[rule_id]

    def rules_of(self, kind: str) -> tuple[ResolvedRule, ...]:
        return self.by_kind.get(kind, ())

    def procedure(self, code: str) -> Procedure:
        return self.procedures[code]

    def chief_requirement(self, subject: str) -> ChiefRequirement:
        """PR-02 criteria merged with the PR-06 scope table for ``subject`` (enum value or 中文名)."""
        subj = str(SUBJECT_BY_ZH.get(subject, subject))
        chief = next((r for r in self.rules_of(RuleKind.CHIEF_PHYSICIAN) if r.data["subject"] == subj), None)
        if chief is None:
            raise KeyError(f"no chief-physician rule for subject {subject!r} in {self.version_label}")
        scope = next((r for r in self.rules_of(RuleKind.PRACTICE_SCOPE) if r.data["subject"] == subj), None)
        d = chief.data
        refs = (chief.ref,) + ((scope.ref,) if scope else ())
        return ChiefRequirement(
            subject=subj,
            filing_required=bool(d.get("filing_required", True)),
            min_years=int(d["min_years"]),
            practice_categories=tuple(d.get("practice_categories", ())),
            accepted_scopes=tuple(scope.data["accepted_scopes"]) if scope else (),
            min_title=d.get("min_title", Title.NONE),
            training_min_years=Decimal(str(d.get("training_min_years", 0))),
            clinical_alternative_years=Decimal(str(d.get("clinical_alternative_years", 1))),
            periodic_assessment_required=bool(d.get("periodic_assessment_required", False)),
            registered_in_province=bool(d.get("registered_in_province", False)),
            rules=refs,
        )

    def anesthesia_requirement(self, grade: int) -> AnesthesiaRequirement | None:
        for r in self.rules_of(RuleKind.ANESTHESIA):
            if r.data["grade"] == grade:
                return AnesthesiaRequirement(
                    grade,
                    r.data["anesthesia_max"],
                    r.data["requires_anesthetist"],
                    r.ref,
                    bool(r.data.get("requires_privilege", False)),
                )
        return None

    def anesthesia_requirements(self) -> tuple[AnesthesiaRequirement, ...]:
        """Every anaesthesia rule, by grade."""
        found = (
            self.anesthesia_requirement(g)
            for g in sorted({r.data["grade"] for r in self.rules_of(RuleKind.ANESTHESIA)})
        )
        return tuple(a for a in found if a is not None)

    def technology_rule_for(self, procedure_code: str) -> ResolvedRule | None:
        """SP-02: the first technology rule (by id) listing the procedure: it needs a technology authorization."""
        rules = sorted(self.rules_of(RuleKind.TECHNOLOGY), key=lambda r: r.rule_id)
        return next((r for r in rules if procedure_code in r.data["procedures"]), None)

    def follow_up_for(self, invasiveness: str) -> FollowUpTemplate | None:
        return next((f for f in self.follow_ups if invasiveness in f.invasiveness), None)

    def limits_for(
        self, *, procedure_code: str | None = None, product_kind: str | None = None
    ) -> tuple[Limit, ...]:
        return tuple(
            lim
            for lim in self.limits
            if lim.applies_to(procedure_code=procedure_code, product_kind=product_kind)
        )

    def requirement(self, metric: str) -> Requirement | None:
        for r in self.rules_of(RuleKind.REQUIREMENT):
            if r.data["metric"] == metric:
                d = r.data
                return Requirement(
                    r.rule_id,
                    d["metric"],
                    thaw(d["value"]),
                    d.get("unit", ""),
                    d.get("applies_to", ""),
                    r.level,
                    r.adjustable,
                    r.ref,
                )
        return None

    def supervision_for(self, profession: str, subject: str) -> ResolvedRule | None:
        subj = str(SUBJECT_BY_ZH.get(subject, subject))
        return next(
            (
                r
                for r in self.rules_of(RuleKind.SUPERVISION)
                if r.data["applies_to"] == profession and subj in r.data["subjects"]
            ),
            None,
        )

    def nurse_qualification(self) -> ResolvedRule | None:
        rules = self.rules_of(RuleKind.NURSE_QUALIFICATION)
        return rules[0] if rules else None

    def nurse_may_perform(self, invasiveness: str) -> tuple[bool, RuleRef | None]:
        """Whether a nurse may perform an item of this invasiveness herself (institution setting)."""
        for r in self.rules_of(RuleKind.NURSE_SCOPE):
            return invasiveness in r.data["may_perform"], r.ref
        return False, None

    def permitted_grade(
        self,
        *,
        institution_type: str,
        hospital_level: str | None,
        subjects: Collection[str],
        has_anesthesiology: bool,
    ) -> GradeDerivation:
        """IN-03: the highest surgical grade; grade 0 means no graded surgery."""
        registered = {str(SUBJECT_BY_ZH.get(s, s)) for s in subjects}
        for gate in self.rules_of(RuleKind.GRADE_GATE):
            if not registered & set(gate.data["requires_any_subject"]):
                return GradeDerivation(int(gate.data.get("max_grade_otherwise", 0)), gate.ref)
        best: ResolvedRule | None = None
        fallback: ResolvedRule | None = None
        for r in self.rules_of(RuleKind.INSTITUTION_GRADE):
            d = r.data
            if d["institution_type"] == ANY_INSTITUTION:
                fallback = fallback or r
                continue
            if d["institution_type"] != institution_type:
                continue
            if d.get("hospital_levels") and hospital_level not in d["hospital_levels"]:
                continue
            if d.get("requires_anesthesiology") and not has_anesthesiology:
                continue
            if best is None or d["max_grade"] > best.data["max_grade"]:
                best = r
        chosen = best or fallback
        if chosen is None:
            raise KeyError(f"no institution-grade rule in {self.version_label}")
        return GradeDerivation(int(chosen.data["max_grade"]), chosen.ref)


# --------------------------------------------------------------------------------------------
# Building a resolved pack from stored rules


def rule_ref(rule: Rule, info: VersionInfo) -> RuleRef:
    return RuleRef(
        info.pack,
        info.version,
        rule.rule_id,
        rule.source,
        citations=tuple(citation_from_json(c) for c in rule.citations or ()),
        layer=info.layer,
        pack_name=info.name,
        pack_name_en=info.name_en,
    )


def _resolved(rule: Rule, info: VersionInfo) -> ResolvedRule:
    return ResolvedRule(
        rule_id=rule.rule_id,
        kind=rule.kind,
        title=rule.title,
        title_en=rule.title_en,
        source=rule.source,
        level=rule.level,
        adjustable=bool(rule.adjustable),
        confirmed=rule.confirmed is not False,
        note=rule.note,
        data=_freeze(rule.data),
        ref=rule_ref(rule, info),
    )


def apply_overlay(
    base: Mapping[str, ResolvedRule], overlay_rules: Iterable[Rule], info: VersionInfo
) -> tuple[dict[str, ResolvedRule], list[str]]:
    """Apply an overlay version's add / change / remove entries on top of ``base``."""
    out = dict(base)
    warnings: list[str] = []
    for rule in overlay_rules:
        ref = rule_ref(rule, info)
        if rule.op == RuleOp.REMOVE:
            if out.pop(rule.rule_id, None) is None:
                warnings.append(f"{info.label}: remove {rule.rule_id}: not in base")
        elif rule.op == RuleOp.CHANGE:
            current = out.get(rule.rule_id)
            if current is None:
                warnings.append(f"{info.label}: change {rule.rule_id}: not in base")
                continue
            data = {**thaw(current.data), **rule.data}
            out[rule.rule_id] = ResolvedRule(
                rule_id=rule.rule_id,
                kind=current.kind,
                title=rule.title or current.title,
                title_en=rule.title_en or current.title_en,
                source=rule.source,
                level=rule.level or current.level,
                adjustable=current.adjustable if rule.adjustable is None else rule.adjustable,
                confirmed=current.confirmed if rule.confirmed is None else rule.confirmed,
                note=rule.note or current.note,
                data=_freeze(data),
                ref=ref,
            )
        else:
            out[rule.rule_id] = _resolved(rule, info)
    return out, warnings


def _info(version: RulePackVersion | VersionRow) -> VersionInfo:
    if isinstance(version, VersionRow):
        return VersionInfo(
            version.pk,
            version.code,
            version.version,
            version.effective_from,
            version.checksum,
            layer=version.jurisdiction,
            name=version.name,
            name_en=version.name_en,
        )
    pack = version.pack
    return VersionInfo(
        version.pk,
        pack.code,
        version.version,
        version.effective_from,
        version.checksum,
        layer=pack.jurisdiction,
        name=pack.name,  # stored in Chinese (the product's language): labels kept in logs stay one language
        name_en=pack.name_en,
    )


# Rules of published versions never change, so they are read once per process (by id and checksum).
_version_rules: dict[tuple[int, str], list[Rule]] = {}


def _rules_of(version: RulePackVersion | VersionRow) -> list[Rule]:
    key = (version.pk, version.checksum)
    published = isinstance(version, VersionRow) or version.status == VersionStatus.PUBLISHED
    if published:
        with _cache_lock:
            hit = _version_rules.get(key)
        if hit is not None:
            return hit
    rules = list(Rule.objects.filter(version_id=version.pk).order_by("position", "pk"))
    if published:
        with _cache_lock:
            if len(_version_rules) > 4096:
                _version_rules.clear()
            _version_rules[key] = rules
    return rules


def build(
    province: str,
    national: RulePackVersion | VersionRow,
    overlay: RulePackVersion | VersionRow | None,
    institution: RulePackVersion | VersionRow | None = None,
) -> ResolvedPack:
    """National rules, the province's overlay on top, then the institution layer on top of both.

    Versions are models, or the resolver's rows of published versions (no extra query to fetch models)."""
    ninfo = _info(national)
    rules = {r.rule_id: _resolved(r, ninfo) for r in _rules_of(national)}
    warnings: list[str] = []
    oinfo = iinfo = None
    if overlay is not None:
        oinfo = _info(overlay)
        rules, warnings = apply_overlay(rules, _rules_of(overlay), oinfo)
    if institution is not None:
        iinfo = _info(institution)
        rules, more = apply_overlay(rules, _rules_of(institution), iinfo)
        warnings.extend(more)
    return ResolvedPack(
        province=province,
        national=ninfo,
        overlay=oinfo,
        rules=MappingProxyType(rules),
        warnings=tuple(warnings),
        institution=iinfo,
    )


# --------------------------------------------------------------------------------------------
# The rules generation (one row in the database, shared by every process)

GENERATION_PK = 1
_Q_GENERATION = FixedQuery(lambda pk: RulesGeneration.objects.filter(pk=pk).order_by().values_list("value"))


def current_generation() -> int:
    """The rules generation now (one primary-key SELECT of a one-row table; 0 if the row is missing)."""
    rows = _Q_GENERATION.run(GENERATION_PK)
    return int(rows[0][0]) if rows else 0


def generation_subquery() -> Subquery:
    """The generation as a scalar subquery, for reading it in the same statement as other rows (NULL if missing)."""
    return Subquery(RulesGeneration.objects.filter(pk=GENERATION_PK).order_by().values("value")[:1])


def bump_generation() -> None:
    """Add one to the rules generation, inside the caller's transaction.

    Call it from every transaction that changes what rule-pack-derived caches hold (publishing a version):
    other processes see the new value exactly when that transaction commits, never before, and a rollback
    undoes it. One ``UPDATE … SET value = value + 1`` (it also serialises concurrent publishers on the row).
    """
    updated = RulesGeneration.objects.filter(pk=GENERATION_PK).update(value=F("value") + 1)
    if not updated:  # the row was deleted (or a flushed test database): recreate it, then count this bump
        RulesGeneration.objects.get_or_create(pk=GENERATION_PK, defaults={"value": 0})
        RulesGeneration.objects.filter(pk=GENERATION_PK).update(value=F("value") + 1)


# --------------------------------------------------------------------------------------------
# Resolution + cache

_cache: dict[tuple[Any, ...], ResolvedPack] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget resolved packs. Not needed for correctness (the key names the versions in force); publishing
    calls it to drop builds that will no longer be asked for."""
    with _cache_lock:
        _cache.clear()
        _version_rules.clear()


def normalize_province(province: str | None) -> str:
    """'北京市' -> '北京', '广西壮族自治区' -> '广西'; unknown names are returned stripped."""
    value = (province or "").strip()
    for name in PROVINCES:
        if value.startswith(name):
            return name
    return value


@dataclass(frozen=True, slots=True)
class ActiveVersions:
    national: RulePackVersion | None
    overlay: RulePackVersion | None
    institution: RulePackVersion | None  # the institution's own policy, else the template


class VersionRow(NamedTuple):
    """A published version as the resolver sees it (plain values, no model instance)."""

    pk: int
    code: str
    jurisdiction: str
    province: str
    institution_pk: int | None
    extends_code: str | None
    version: int
    effective_from: dt.date | None
    checksum: str
    published_at: dt.datetime | None
    name: str
    name_en: str


# Every published version of the shared packs (national, provincial overlays, the template) and of one
# institution's own policy: a few dozen rows whatever the number of institutions. Compiled once (a hot path:
# the ORM work of building this query cost more than running it); the date and province are picked in Python.
VERSION_COLUMNS = (  # VersionRow's fields, in order
    "pk",
    "pack__code",
    "pack__jurisdiction",
    "pack__province",
    "pack__institution_pk",
    "pack__extends__code",
    "version",
    "effective_from",
    "checksum",
    "published_at",
    "pack__name",
    "pack__name_en",
)
Q_PUBLISHED = FixedQuery(
    lambda institution: (
        RulePackVersion.objects.filter(status=VersionStatus.PUBLISHED)
        .filter(Q(pack__institution_pk__isnull=True) | Q(pack__institution_pk=institution))
        .order_by()
        .values_list(*VERSION_COLUMNS)
    )
)


def newest_in_force(rows: Iterable[VersionRow], on: dt.date) -> list[VersionRow]:
    """The published versions effective on ``on``, newest first (the order every pick below relies on)."""
    return sorted(
        (r for r in rows if r.effective_from is not None and r.effective_from <= on),
        key=lambda r: (-r.version, -r.effective_from.toordinal()),  # type: ignore[union-attr]
    )


def base_code(overlay: VersionRow | None) -> str:
    """The national pack a provincial overlay extends (the national baseline without one)."""
    return (overlay.extends_code or NATIONAL_PACK) if overlay else NATIONAL_PACK


def national_in_force(rows: Sequence[VersionRow], code: str) -> VersionRow | None:
    return next((r for r in rows if r.code == code and r.jurisdiction == Jurisdiction.NATIONAL), None)


def layer_in_force(rows: Sequence[VersionRow], institution_id: int | None) -> VersionRow | None:
    """The institution layer: the institution's own policy when it has one, else the template."""
    own = next((r for r in rows if institution_id is not None and r.institution_pk == institution_id), None)
    return own or next((r for r in rows if r.code == TEMPLATE_PACK), None)


def pick_in_force(
    rows: Sequence[VersionRow], province: str, institution_id: int | None
) -> tuple[VersionRow | None, VersionRow | None, VersionRow | None]:
    """(national, overlay, institution layer) among ``rows`` (newest first): the first of each."""
    overlay = next(
        (
            r
            for r in rows
            if province and r.jurisdiction == Jurisdiction.PROVINCIAL and r.province == province
        ),
        None,
    )
    return national_in_force(rows, base_code(overlay)), overlay, layer_in_force(rows, institution_id)


def _in_force(
    province: str, on: dt.date, institution_id: int | None
) -> tuple[VersionRow | None, VersionRow | None, VersionRow | None]:
    """(national, overlay, institution layer) in force: the highest published version of each with
    ``effective_from <= on``; the layer is the institution's own policy when it has one, else the template."""
    rows = newest_in_force(map(VersionRow._make, Q_PUBLISHED.run(institution_id or 0)), on)
    return pick_in_force(rows, province, institution_id)


def published_in_force(on: dt.date, *, exclude_pk: int | None = None) -> list[VersionRow]:
    """Every published version effective on ``on`` (all institutions' policies included), newest first."""
    qs = RulePackVersion.objects.filter(status=VersionStatus.PUBLISHED).order_by()
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return newest_in_force(map(VersionRow._make, qs.values_list(*VERSION_COLUMNS)), on)


def versions_in_force(province: str, on: dt.date, institution_id: int | None = None) -> ActiveVersions:
    """The versions in force for an institution: national, province overlay, institution layer (models)."""
    picked = _in_force(province, on, institution_id)
    wanted = [r.pk for r in picked if r is not None]
    found = {
        v.pk: v for v in RulePackVersion.objects.filter(pk__in=wanted).select_related("pack", "pack__extends")
    }
    national, overlay, layer = (found.get(r.pk) if r is not None else None for r in picked)
    return ActiveVersions(national, overlay, layer)


def resolve(province: str, on: dt.date, institution_id: int | None = None) -> ResolvedPack:
    """The rules in force for an institution in ``province`` on ``on`` (one query when cached).

    Without ``institution_id`` the institution layer is the template (what a new institution starts from).
    """
    prov = normalize_province(province)
    picked = _in_force(prov, on, institution_id)
    if picked[0] is None:
        raise NoActivePack(prov, on)
    key = (prov, *((r.pk, r.checksum, r.published_at) if r is not None else None for r in picked))
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    resolved = build(prov, *picked)  # type: ignore[arg-type]  # picked[0] is not None (checked above)
    with _cache_lock:
        if len(_cache) > 4096:
            _cache.clear()
        _cache[key] = resolved
    return resolved


def derive_permitted_grade(
    *,
    province: str,
    institution_type: str,
    hospital_level: str | None,
    subjects: Collection[str],
    has_anesthesiology: bool,
    on: dt.date | None = None,
) -> GradeDerivation:
    """The highest surgical grade (IN-03) the institution may perform; 0 = none. Raises ``NoActivePack``."""
    pack = resolve(province, on or timezone.localdate())
    return pack.permitted_grade(
        institution_type=institution_type,
        hospital_level=hospital_level,
        subjects=subjects,
        has_anesthesiology=has_anesthesiology,
    )


def effective_rules(version: RulePackVersion) -> ResolvedPack:
    """A version seen as it would apply: a national version alone, an overlay on top of its base, an
    institution layer on top of the national pack (and its province's overlay) in force on its date.

    For an overlay the base is the newest published version of the base pack effective on the
    overlay's date (or the newest published, or the newest draft if nothing is published).
    """
    if version.pack.jurisdiction == Jurisdiction.INSTITUTION:
        on = version.effective_from or timezone.localdate()
        found = versions_in_force(version.pack.province, on)
        if found.national is None:
            raise NoActivePack(version.pack.province, on)
        return build(version.pack.province, found.national, found.overlay, version)
    if version.pack.jurisdiction == Jurisdiction.NATIONAL or version.pack.extends_id is None:
        return build(version.pack.province, version, None)
    bases = RulePackVersion.objects.filter(pack_id=version.pack.extends_id).select_related("pack")
    base = None
    if version.effective_from:
        base = (
            bases.published().filter(effective_from__lte=version.effective_from).order_by("-version").first()
        )
    base = base or bases.published().order_by("-version").first() or bases.order_by("-version").first()
    if base is None:
        raise NoActivePack(version.pack.province, version.effective_from or timezone.localdate())
    return build(version.pack.province, base, version)


# --------------------------------------------------------------------------------------------
# Diff

COMPARED = ("kind", "op", "title", "title_en", "source", "level", "adjustable", "confirmed", "note")


def _flat(rule: Rule) -> dict[str, Any]:
    out = {name: getattr(rule, name) for name in COMPARED}
    out.update({f"data.{k}": v for k, v in sorted(rule.data.items())})
    return out


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class RuleSnapshot:
    rule_id: str
    kind: str
    op: str
    title: str
    title_en: str
    source: str
    fields: Mapping[str, Any]
    citations: tuple[Mapping[str, str], ...] = ()

    @property
    def display_title(self) -> str:
        return self.title_en if (self.title_en and _in_english()) else self.title

    @classmethod
    def of(cls, rule: Rule) -> RuleSnapshot:
        return cls(
            rule.rule_id,
            rule.kind,
            rule.op,
            rule.title,
            rule.title_en,
            rule.source,
            MappingProxyType(_flat(rule)),
            tuple(rule.citations or ()),
        )


@dataclass(frozen=True, slots=True)
class RuleChange:
    rule_id: str
    before: RuleSnapshot
    after: RuleSnapshot
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class VersionDiff:
    a: str
    b: str
    added: tuple[RuleSnapshot, ...]
    removed: tuple[RuleSnapshot, ...]
    changed: tuple[RuleChange, ...]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_versions(a: RulePackVersion, b: RulePackVersion) -> VersionDiff:
    """Rules added in ``b``, removed from ``a``, and changed (field by field), by rule id."""
    old = {r.rule_id: r for r in _rules_of(a)}
    new = {r.rule_id: r for r in _rules_of(b)}
    added = tuple(RuleSnapshot.of(new[k]) for k in new if k not in old)
    removed = tuple(RuleSnapshot.of(old[k]) for k in old if k not in new)
    changed = []
    for key in new:
        if key not in old:
            continue
        before, after = _flat(old[key]), _flat(new[key])
        fields = tuple(
            FieldChange(name, before.get(name), after.get(name))
            for name in sorted(set(before) | set(after), key=lambda n: (n.startswith("data."), n))
            if before.get(name) != after.get(name)
        )
        if fields:
            changed.append(RuleChange(key, RuleSnapshot.of(old[key]), RuleSnapshot.of(new[key]), fields))
    return VersionDiff(str(a), str(b), added, removed, tuple(changed))


def procedure_code_of(rule_id: str) -> str | None:
    return rule_id[len(PROCEDURE_PREFIX) :] if rule_id.startswith(PROCEDURE_PREFIX) else None
