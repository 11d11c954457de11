"""The immutable facts the decision engine reads: a request and a snapshot.

Everything here is a frozen dataclass of plain values (no ORM objects), so ``policy.decide`` is a pure
function: the same request and snapshot always give the same decision, and a past decision can be replayed
by rebuilding the snapshot as of its time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from meiguard.rules.services import RuleRef

CHINA_TZ = ZoneInfo("Asia/Shanghai")
NO_RULE = RuleRef("", 0, "", "")  # a pack without that rule (only test packs): the reason cites nothing


@dataclass(frozen=True, slots=True)
class ProductUse:
    """One product used in the treatment: a lot, with the planned dose and (for fillers) minutes per site."""

    lot_id: int
    dose_value: Decimal | None = None
    dose_unit: str | None = None
    minutes: int | None = None


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    institution_id: int
    practitioner_id: int
    procedure_code: str
    at: dt.datetime
    products: tuple[ProductUse, ...] = ()
    device_ids: tuple[int, ...] = ()
    supervisor_id: int | None = None
    anesthetist_id: int | None = None
    anesthesia: str | None = None  # local / epidural-iv / general; None = the procedure's anesthesia_max

    @property
    def on(self) -> dt.date:
        """The calendar day in China on which validity dates are compared."""
        return self.at.astimezone(CHINA_TZ).date()


# ---- rule-pack facts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcedureFacts:
    code: str
    subject: str
    grade: int | None
    invasive: str
    category: str
    name_zh: str
    name_en: str
    rule: RuleRef
    anesthesia_max: str | None = None


@dataclass(frozen=True, slots=True)
class ChiefRequirement:
    """PR-02/PR-05/PR-06: what a 主诊医师 filing of this subject needs.

    The last four fields are provincial extras (PR-05, Beijing); their defaults ask for nothing.
    """

    subject: str
    min_years: int
    accepted_scopes: frozenset[str]
    min_title_rank: int
    rule: RuleRef
    scope_rule: RuleRef | None = None  # PR-06: the practice-scope table (when the pack has one)
    training_min_years: Decimal = Decimal(0)
    clinical_alternative_years: Decimal = Decimal(1)
    periodic_assessment_required: bool = False
    registered_in_province: bool = False


@dataclass(frozen=True, slots=True)
class AnesthesiaRule:
    """PG-01/PR-09: the anaesthesia of one surgical grade and whether it needs an anaesthetist."""

    grade: int
    anesthesia_max: str
    requires_anesthetist: bool
    rule: RuleRef
    requires_privilege: bool = False


@dataclass(frozen=True, slots=True)
class DoseLimit:
    """Per-session dose limit for an active ingredient (e.g. botulinum_toxin_a ≤ 200 U)."""

    ingredient: str
    max_value: Decimal
    unit: str
    rule: RuleRef


@dataclass(frozen=True, slots=True)
class DurationLimit:
    """Minutes per injection site for an active ingredient (e.g. hyaluronic_acid ≤ 40 min)."""

    ingredient: str
    max_minutes: int
    rule: RuleRef


@dataclass(frozen=True, slots=True)
class PackFacts:
    pack: str
    version: int
    label: str
    procedure: ProcedureFacts
    permitted_grade: int
    grade_rule: RuleRef
    chief: ChiefRequirement | None
    supervision_rule: RuleRef
    nurse_allowed_invasive: frozenset[str] | None  # None: the institution sets no nurse scope
    nurse_rule: RuleRef
    nurse_min_training_hours: Decimal
    nurse_training_rule: RuleRef
    authorization_rule: RuleRef
    product_rule: RuleRef
    device_rule: RuleRef
    dose_limits: tuple[DoseLimit, ...] = ()
    duration_limits: tuple[DurationLimit, ...] = ()
    warn_days: int = 30
    # The rule each reason cites (docs/decision-reasons.md). Institution-layer rules are None when the
    # institution's policy does not set them: the engine then does not ask for what they require.
    licence_rule: RuleRef = NO_RULE  # IN-01.licence
    subjects_rule: RuleRef = NO_RULE  # IN-01.registered-subjects
    verification_rule: RuleRef = NO_RULE  # IN-04.verification-cycle-years
    manual_review_rule: RuleRef = NO_RULE  # PG-04.unlisted-surgery
    physician_rule: RuleRef = NO_RULE  # PR-01.physician-licence
    nurse_registration_rule: RuleRef = NO_RULE  # PR-07.nurse
    supplier_rule: RuleRef = NO_RULE  # DD-07.qualified-supplier
    recall_rule: RuleRef = NO_RULE  # DD-09.recalled-lots
    ungraded_authorization_rule: RuleRef | None = None  # institution layer
    product_authorization_rule: RuleRef | None = None  # institution layer
    device_authorization_rule: RuleRef | None = None  # institution layer
    # PG-01/PR-09: every anaesthesia rule of the pack (by grade); the engine picks the one that applies.
    anesthesia_rules: tuple[AnesthesiaRule, ...] = ()
    # SP-02: the technology rule listing this procedure (None: no technology authorization needed).
    technology_rule: RuleRef | None = None
    # PR-07.nurse: years of nursing experience a nurse needs (0: not checked).
    nurse_min_years: Decimal = Decimal(0)
    nurse_qualification_rule: RuleRef | None = None
    # PR-07 [S05]: warn a nurse whose registration expires within this many days (None: no warning).
    nurse_renewal_notice_days: int | None = None
    nurse_renewal_rule: RuleRef | None = None
    # IN-04 [S09]: warn when the institution's 校验 is due within this many months (None: no warning).
    verification_notice_months: int | None = None
    verification_notice_rule: RuleRef | None = None


# ---- registry facts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstitutionFacts:
    id: int
    name: str
    status: str
    licence_valid_from: dt.date | None
    licence_valid_until: dt.date | None
    next_verification_due: dt.date | None
    subjects: frozenset[str]
    province: str
    has_anesthesiology: bool = False


@dataclass(frozen=True, slots=True)
class SiteFacts:
    institution_id: int
    valid_from: dt.date | None
    valid_until: dt.date | None


@dataclass(frozen=True, slots=True)
class QualificationFacts:
    id: int
    kind: str
    subject: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    verification_status: str
    qualifying_years: int | None = None
    hours: Decimal | None = None
    reference: str = ""  # product brand / device model a training certificate covers
    duration_months: int | None = None  # aesthetic training (进修) / aesthetic clinical work (PR-05)


@dataclass(frozen=True, slots=True)
class PractitionerFacts:
    id: int
    name: str
    profession: str
    status: str
    practice_scopes: frozenset[str]
    title_rank: int
    main_institution_id: int
    sites: tuple[SiteFacts, ...] = ()
    qualifications: tuple[QualificationFacts, ...] = ()
    practising_since: dt.date | None = None
    main_province: str = ""  # province of the main institution (where the 执业注册 is held)


@dataclass(frozen=True, slots=True)
class AuthorizationFacts:
    id: int
    kind: str  # qualification / product / device / technology
    institution_id: int
    practitioner_id: int | None
    status: str
    valid_from: dt.date
    valid_until: dt.date | None
    procedure_code: str = ""
    procedure_category: str = ""
    subject: str = ""
    product_brand: str = ""
    device_model: str = ""
    max_grade: int | None = None
    supervisor_id: int | None = None


@dataclass(frozen=True, slots=True)
class ProductFacts:
    id: int
    name: str
    brand: str
    kind: str
    registration_no: str
    registration_valid_until: dt.date | None
    high_risk: bool
    ingredient: str
    dose_unit: str
    supplier_id: int | None
    # Validity windows of the supplier's distribution authorizations for this brand.
    distribution_windows: tuple[tuple[dt.date | None, dt.date | None], ...] = ()


@dataclass(frozen=True, slots=True)
class LotFacts:
    id: int
    lot_no: str
    institution_id: int
    expiry: dt.date
    status: str
    recall_level: int | None
    product: ProductFacts


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    id: int
    serial: str
    institution_id: int
    status: str
    model: str
    next_inspection_due: dt.date | None
    next_calibration_due: dt.date | None
    product: ProductFacts


@dataclass(frozen=True, slots=True)
class Snapshot:
    pack: PackFacts
    institution: InstitutionFacts
    practitioner: PractitionerFacts
    supervisor: PractitionerFacts | None = None
    # The practitioner's and the anaesthetist's at this institution, plus technology authorizations that
    # apply here (granted to the institution, or institution-wide with no practitioner).
    authorizations: tuple[AuthorizationFacts, ...] = ()
    lots: tuple[LotFacts, ...] = ()
    devices: tuple[DeviceFacts, ...] = ()
    anesthetist: PractitionerFacts | None = None

    def lot(self, lot_id: int) -> LotFacts | None:
        return next((lot for lot in self.lots if lot.id == lot_id), None)

    def device(self, device_id: int) -> DeviceFacts | None:
        return next((d for d in self.devices if d.id == device_id), None)
