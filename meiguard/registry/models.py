"""Registry: institutions, practitioners and their credentials, suppliers, products, lots, devices.

Models hold fields, constraints, cross-field validation (``clean``) and small pure properties.
Writes happen only in ``actions.py``; reads go through ``visible_to`` / ``writable_by``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.core.choices import INSTITUTION_WRITERS, REGISTRY_WRITERS, STOCK_WRITERS, SUPPLIER_WRITERS
from meiguard.rules.choices import (
    PRACTICE_SCOPES,
    PROVINCES,
    HospitalLevel,
    InstitutionType,
    PracticeCategory,
    Profession,
    Subject,
    Title,
)

from . import validators as v
from .choices import (
    CHIEF_FILING_MIN_YEARS,
    CLINIC_MAX_SUBJECTS,
    HIGH_RISK_CATEGORIES,
    CreditClass,
    DeviceStatus,
    DoseUnit,
    InstitutionStatus,
    LicenceKind,
    LotStatus,
    PractitionerStatus,
    ProductCategory,
    ProductKind,
    QualificationKind,
    RecallLevel,
    RiskClass,
    SiteRequestStatus,
    VerificationStatus,
)
from .crypto import EncryptedCharField, blind_index, mask_id_number

EVIDENCE_UPLOAD = "evidence/registry/%Y/%m/"
HOSPITAL_TYPES_WITH_LEVEL = frozenset(
    {InstitutionType.GENERAL_HOSPITAL, InstitutionType.PLASTIC_SURGERY_HOSPITAL}
)
ONE_YEAR_CYCLE_TYPES = frozenset(
    {InstitutionType.AESTHETIC_CLINIC, InstitutionType.AESTHETIC_OUTPATIENT_DEPT}
)
DOCTOR_PROFESSIONS = frozenset({Profession.DOCTOR, Profession.ANESTHETIST})
NURSE_TITLES = frozenset({Title.NURSE, Title.NURSE_PRACTITIONER, Title.SUPERVISOR_NURSE})
DOCTOR_TITLES = frozenset({Title.RESIDENT, Title.ATTENDING, Title.ASSOCIATE_CHIEF, Title.CHIEF})

practitioner_licence_validator = RegexValidator(
    r"^[0-9A-Z]{8,30}$", _("执业证书编码应为8–30位数字或大写字母"), code="invalid_licence_no"
)
business_licence_validator = RegexValidator(
    r"^[0-9A-Z]{10,30}$", _("营业执照编号应为10–30位数字或大写字母"), code="invalid_business_licence"
)


def _check_range(
    errors: dict[str, list[Any]], start: dt.date | None, end: dt.date | None, end_field: str
) -> None:
    if start and end and start > end:
        errors.setdefault(end_field, []).append(_("结束日期不能早于开始日期"))


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _raise(errors: dict[str, list[Any]]) -> None:
    if errors:
        raise ValidationError(errors)


class Institution(models.Model):
    """A licensed aesthetic provider (IN-01/IN-02); one per institution-kind Organization."""

    organization = models.OneToOneField(
        "core.Organization", on_delete=models.PROTECT, related_name="institution", verbose_name=_("组织")
    )
    name = models.CharField(_("机构名称"), max_length=128)
    credit_code = models.CharField(
        _("统一社会信用代码"), max_length=18, unique=True, validators=[v.validate_credit_code]
    )
    licence_kind = models.CharField(
        _("执业证照类型"), max_length=32, choices=LicenceKind.choices, default=LicenceKind.PRACTICE_LICENCE
    )
    licence_no = models.CharField(_("执业许可证登记号/备案凭证编号"), max_length=64, unique=True)
    institution_type = models.CharField(_("机构类型"), max_length=32, choices=InstitutionType.choices)
    hospital_level = models.CharField(_("医院等级"), max_length=16, choices=HospitalLevel.choices, blank=True)
    has_anesthesiology = models.BooleanField(_("设麻醉科"), default=False)
    subjects = models.JSONField(_("登记的医疗美容诊疗科目"), default=list, blank=True)
    licence_valid_from = models.DateField(_("许可证有效期自"))
    licence_valid_until = models.DateField(_("许可证有效期至"))
    verification_cycle_years = models.PositiveSmallIntegerField(
        _("校验周期(年)"), choices=[(1, _("1年")), (3, _("3年"))], default=1
    )
    # IN-04: the due date follows the last verification (or, for a licence younger than one cycle, its start);
    # never guessed from the licence start alone, so an unknown last verification is asked for, not "overdue".
    last_verified_on = models.DateField(_("上次校验日期"), null=True, blank=True)
    next_verification_due = models.DateField(_("下次校验到期日"), null=True, blank=True)
    province = models.CharField(_("省份"), max_length=16, choices=[(p, p) for p in PROVINCES])
    city = models.CharField(_("城市"), max_length=32)
    status = models.CharField(
        _("状态"), max_length=16, choices=InstitutionStatus.choices, default=InstitutionStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("organization",), write_path="organization", write_roles=INSTITUTION_WRITERS
    )

    class Meta:
        verbose_name = _("医疗机构")
        verbose_name_plural = _("医疗机构")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def audit_organization_id(self) -> int | None:
        return self.organization_id

    def normalize(self) -> None:
        self.credit_code = v.normalize_code(self.credit_code)
        if self.licence_kind == LicenceKind.PRACTICE_LICENCE:
            self.licence_no = v.normalize_code(self.licence_no)
        else:
            self.licence_no = (self.licence_no or "").strip()
        self.name = (self.name or "").strip()
        if isinstance(self.subjects, list | tuple):
            self.subjects = sorted({str(s) for s in self.subjects})

    def subject_labels(self) -> list[str]:
        labels = dict(Subject.choices)
        return [str(labels.get(s, s)) for s in self.subjects]

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        is_clinic = self.institution_type == InstitutionType.AESTHETIC_CLINIC
        if self.institution_type in HOSPITAL_TYPES_WITH_LEVEL and not self.hospital_level:
            errors["hospital_level"] = [_("综合医院和整形外科医院必须填写医院等级")]
        elif (
            self.institution_type
            and self.institution_type not in HOSPITAL_TYPES_WITH_LEVEL
            and self.hospital_level
        ):
            errors["hospital_level"] = [_("只有综合医院和整形外科医院填写医院等级")]
        subjects = self.subjects if isinstance(self.subjects, list) else None
        valid_subjects = set(Subject.values)
        if subjects is None or any(s not in valid_subjects for s in subjects):
            errors["subjects"] = [_("诊疗科目取值无效")]
        elif not subjects:
            errors["subjects"] = [_("至少登记一个医疗美容诊疗科目")]
        elif is_clinic and len(subjects) > CLINIC_MAX_SUBJECTS:
            errors["subjects"] = [
                _("医疗美容诊所最多登记2个诊疗科目(《美容医疗机构、医疗美容科(室)基本标准(试行)》)")
            ]
        if self.licence_kind == LicenceKind.CLINIC_FILING_CERTIFICATE:
            if not is_clinic:
                errors.setdefault("licence_kind", []).append(_("只有诊所可以使用诊所备案凭证"))
            try:
                v.validate_clinic_filing_no(self.licence_no)
            except ValidationError as exc:
                errors.setdefault("licence_no", []).extend(exc.messages)
        elif self.licence_no:
            try:
                v.validate_licence_no(self.licence_no)
            except ValidationError as exc:
                errors.setdefault("licence_no", []).extend(exc.messages)
        _check_range(errors, self.licence_valid_from, self.licence_valid_until, "licence_valid_until")
        if self.institution_type in ONE_YEAR_CYCLE_TYPES and self.verification_cycle_years != 1:
            errors.setdefault("verification_cycle_years", []).append(
                _("诊所和门诊部的校验周期为1年(《医疗机构校验管理办法(试行)》)")
            )
        if self.institution_type == InstitutionType.COSMETIC_HOSPITAL and not self.has_anesthesiology:
            errors.setdefault("has_anesthesiology", []).append(
                _("美容医院必须设麻醉科(《美容医疗机构、医疗美容科(室)基本标准(试行)》)")
            )
        if (
            self.next_verification_due
            and self.licence_valid_from
            and self.next_verification_due < self.licence_valid_from
        ):
            errors.setdefault("next_verification_due", []).append(_("下次校验日期不能早于许可证生效日期"))
        if self.last_verified_on and self.last_verified_on > timezone.localdate():
            errors.setdefault("last_verified_on", []).append(_("上次校验日期不能晚于今天"))
        if (
            self.last_verified_on
            and self.next_verification_due
            and self.next_verification_due <= self.last_verified_on
        ):
            errors.setdefault("next_verification_due", []).append(_("下次校验到期日应晚于上次校验日期"))
        _raise(errors)

    def first_verification_due(self) -> dt.date | None:
        """A licence's first 校验 falls one cycle after it took effect (IN-04)."""
        if not self.licence_valid_from:
            return None
        return add_years(self.licence_valid_from, self.verification_cycle_years or 1)

    def derived_verification_due(self) -> dt.date | None:
        """The due date that follows from the last verification + the cycle, else (a licence not yet one cycle
        old) from the licence start; None when the last verification is unknown and the licence is older."""
        if self.last_verified_on:
            return add_years(self.last_verified_on, self.verification_cycle_years or 1)
        first = self.first_verification_due()
        if first is not None and first >= timezone.localdate():
            return first
        return None

    def is_licence_valid(self, on: dt.date) -> bool:
        return self.licence_valid_from <= on <= self.licence_valid_until

    def verification_overdue(self, on: dt.date) -> bool:
        return bool(self.next_verification_due and self.next_verification_due < on)


class Practitioner(models.Model):
    """A doctor, nurse or other staff member. The main institution (主执业机构) owns the record."""

    name = models.CharField(_("姓名"), max_length=64)
    id_number = EncryptedCharField(_("身份证号"))
    # Unique per main institution, not platform-wide: registering a person must not reveal whether another
    # institution already registered them (ADR 0009).
    id_number_index = models.CharField(max_length=64, editable=False, db_index=True)
    profession = models.CharField(_("职业"), max_length=16, choices=Profession.choices)
    licence_no = models.CharField(
        _("执业证书编码"), max_length=32, blank=True, validators=[practitioner_licence_validator]
    )
    practice_category = models.CharField(
        _("执业类别"), max_length=16, choices=PracticeCategory.choices, blank=True
    )
    practice_scope = models.CharField(
        _("执业范围"), max_length=32, choices=[(s, s) for s in PRACTICE_SCOPES], blank=True
    )
    main_institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="practitioners", verbose_name=_("主执业机构")
    )
    title = models.CharField(_("职称"), max_length=32, choices=Title.choices, default=Title.NONE)
    practising_since = models.DateField(_("开始执业日期"), null=True, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="practitioner",
        verbose_name=_("系统账号"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=PractitionerStatus.choices, default=PractitionerStatus.ACTIVE
    )
    status_reason = models.TextField(_("状态原因"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("main_institution__organization", "sites__institution__organization"),
        write_path="main_institution__organization",
        write_roles=REGISTRY_WRITERS,
    )
    audit_masked_fields = ("id_number", "id_number_index")

    class Meta:
        verbose_name = _("执业人员")
        verbose_name_plural = _("执业人员")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["main_institution", "id_number_index"], name="uniq_practitioner_id_number_per_inst"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def audit_organization_id(self) -> int | None:
        return self.main_institution.organization_id

    def audit_extra(self) -> dict[str, Any]:
        return {"id_number_masked": self.masked_id_number}

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number or "")

    def normalize(self) -> None:
        self.name = (self.name or "").strip()
        self.id_number = v.normalize_code(self.id_number or "")
        self.licence_no = v.normalize_code(self.licence_no)
        if self.id_number:
            self.id_number_index = blind_index(self.id_number)

    def years_of_practice(self, on: dt.date) -> int | None:
        if not self.practising_since:
            return None
        since = self.practising_since
        years = on.year - since.year - ((on.month, on.day) < (since.month, since.day))
        return max(years, 0)

    def clean_fields(self, exclude: Any = None) -> None:
        errors: dict[str, list[Any]] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = dict(exc.message_dict)
        try:
            v.validate_id_number(self.id_number or "")
        except ValidationError as exc:
            errors.setdefault("id_number", []).extend(exc.messages)
        _raise(errors)

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        is_doctor = self.profession in DOCTOR_PROFESSIONS
        is_nurse = self.profession == Profession.NURSE
        if (is_doctor or is_nurse) and not self.licence_no:
            errors["licence_no"] = [_("医师和护士必须填写执业证书编码")]
        if is_doctor:
            if not self.practice_category or self.practice_category == PracticeCategory.NURSING:
                errors["practice_category"] = [_("医师须填写临床/口腔/中医/公共卫生执业类别")]
            if not self.practice_scope:
                errors["practice_scope"] = [_("医师须填写执业范围")]
            if self.title in NURSE_TITLES:
                errors["title"] = [_("职称与职业不符")]
        if is_nurse:
            if self.practice_category not in ("", PracticeCategory.NURSING):
                errors["practice_category"] = [_("护士的执业类别应为护理")]
            if self.title in DOCTOR_TITLES:
                errors["title"] = [_("职称与职业不符")]
        if self.practising_since and self.practising_since > timezone.localdate():
            errors["practising_since"] = [_("开始执业日期不能晚于今天")]
        if self.status == PractitionerStatus.SUSPENDED and not (self.status_reason or "").strip():
            errors["status_reason"] = [_("暂停执业必须填写原因")]
        _raise(errors)


class PractitionerSite(models.Model):
    """多点执业: a practitioner registered to practise at another institution (the host, which owns it)."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, related_name="sites", verbose_name=_("执业人员")
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="visiting_practitioners",
        verbose_name=_("执业机构"),
    )
    valid_from = models.DateField(_("有效期自"))
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institution__organization", "practitioner__main_institution__organization"),
        write_path="institution__organization",
        write_roles=REGISTRY_WRITERS,
    )

    class Meta:
        verbose_name = _("多点执业")
        verbose_name_plural = _("多点执业")
        ordering = ["-valid_from", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["practitioner", "institution", "valid_from"], name="uniq_practitioner_site"
            )
        ]

    def __str__(self) -> str:
        return f"{self.practitioner} @ {self.institution}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        _check_range(errors, self.valid_from, self.valid_until, "valid_until")
        if (
            self.practitioner_id
            and self.institution_id
            and self.practitioner.main_institution_id == self.institution_id
        ):
            errors["institution"] = [_("多点执业机构不能是主执业机构")]
        _raise(errors)

    def is_valid_on(self, on: dt.date) -> bool:
        return self.valid_from <= on and (self.valid_until is None or on <= self.valid_until)


class PractitionerSiteRequest(models.Model):
    """A host institution asks to register another institution's practitioner for 多点执业.

    The host names the person by ID number and name only. Whether anyone matched is never shown to the host: the
    request reads "pending" until the practitioner's main institution accepts (a ``PractitionerSite`` is created
    and the person becomes visible to the host) or refuses (nothing becomes visible).
    """

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="site_requests", verbose_name=_("申请机构")
    )
    # The matched practitioner (hidden from the host until accepted); null when nobody matched.
    practitioner = models.ForeignKey(
        Practitioner,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="site_requests",
        verbose_name=_("执业人员"),
    )
    name = models.CharField(_("姓名"), max_length=64)
    id_number_index = models.CharField(max_length=64, editable=False)
    id_number_masked = models.CharField(_("身份证号"), max_length=32)
    valid_from = models.DateField(_("有效期自"))
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    note = models.TextField(_("申请说明"), blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=SiteRequestStatus.choices, default=SiteRequestStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("申请人"),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("处理人"),
    )
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    decision_note = models.TextField(_("处理意见"), blank=True)
    site = models.OneToOneField(
        PractitionerSite,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="request",
        verbose_name=_("多点执业"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    # Read by the host (its own request) and by the practitioner's main institution; decided by the latter.
    tenancy = TenantPolicy(
        read_paths=("institution__organization", "practitioner__main_institution__organization"),
        write_path="practitioner__main_institution__organization",
        write_roles=INSTITUTION_WRITERS,
    )
    # The host's audit chain must not name whom its request matched.
    audit_masked_fields = ("practitioner", "id_number_index")

    class Meta:
        verbose_name = _("多点执业申请")
        verbose_name_plural = _("多点执业申请")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "id_number_index"],
                condition=Q(status="pending"),
                name="uniq_pending_site_request",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.institution}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class Qualification(models.Model):
    """Every credential of a practitioner, including 主诊医师 filings per subject (PR-02/04/07/08)."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, related_name="qualifications", verbose_name=_("执业人员")
    )
    kind = models.CharField(_("类型"), max_length=32, choices=QualificationKind.choices)
    subject = models.CharField(_("专业(科目)"), max_length=32, choices=Subject.choices, blank=True)
    filing_date = models.DateField(_("备案日期"), null=True, blank=True)
    qualifying_years = models.PositiveSmallIntegerField(_("相关临床工作年限"), null=True, blank=True)
    issuer = models.CharField(_("发证/备案机关"), max_length=128, blank=True)
    number = models.CharField(_("证书编号"), max_length=64, blank=True)
    product_reference = models.CharField(_("产品/设备型号"), max_length=128, blank=True)
    valid_from = models.DateField(_("有效期自"), null=True, blank=True)
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    hours = models.DecimalField(
        _("学时"), max_digits=6, decimal_places=1, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    credits = models.DecimalField(
        _("学分"), max_digits=5, decimal_places=1, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    credit_class = models.CharField(_("学分类别"), max_length=16, choices=CreditClass.choices, blank=True)
    year = models.PositiveSmallIntegerField(_("年度"), null=True, blank=True)
    # PR-05: how long an aesthetic training (进修) or a spell of continuous aesthetic clinical work lasted.
    duration_months = models.PositiveSmallIntegerField(_("时长(月)"), null=True, blank=True)
    evidence = models.FileField(
        _("证明文件"), upload_to=EVIDENCE_UPLOAD, blank=True, validators=[v.validate_evidence_file]
    )
    verification_status = models.CharField(
        _("核验状态"),
        max_length=16,
        choices=VerificationStatus.choices,
        default=VerificationStatus.UNVERIFIED,
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("核验人"),
    )
    verified_at = models.DateTimeField(_("核验时间"), null=True, blank=True)
    verification_note = models.TextField(_("核验说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=(
            "practitioner__main_institution__organization",
            "practitioner__sites__institution__organization",
        ),
        write_path="practitioner__main_institution__organization",
        write_roles=REGISTRY_WRITERS,
    )

    class Meta:
        verbose_name = _("资质")
        verbose_name_plural = _("资质")
        ordering = ["practitioner_id", "kind", "-valid_until", "pk"]

    def __str__(self) -> str:
        label = self.get_kind_display()
        if self.subject:
            label = f"{label}·{self.get_subject_display()}"
        return f"{self.practitioner} {label}"

    def audit_organization_id(self) -> int | None:
        return self.practitioner.main_institution.organization_id

    def is_valid_on(self, on: dt.date) -> bool:
        if self.verification_status == VerificationStatus.REJECTED:
            return False
        if self.valid_from and on < self.valid_from:
            return False
        return not (self.valid_until and on > self.valid_until)

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        kind = self.kind

        def need(field: str, message: Any) -> None:
            if getattr(self, field) in (None, ""):
                errors.setdefault(field, []).append(message)

        _check_range(errors, self.valid_from, self.valid_until, "valid_until")
        profession = self.practitioner.profession if self.practitioner_id else None
        if kind == QualificationKind.CHIEF_PHYSICIAN_FILING:
            need("subject", _("主诊医师备案必须填写专业"))
            need("filing_date", _("主诊医师备案必须填写备案日期"))
            need("qualifying_years", _("主诊医师备案必须填写相关临床工作年限"))
            if profession and profession != Profession.DOCTOR:
                errors.setdefault("kind", []).append(_("只有医师可以进行主诊医师备案"))
            minimum = CHIEF_FILING_MIN_YEARS.get(self.subject)  # type: ignore[call-overload]
            if minimum is not None and self.qualifying_years is not None and self.qualifying_years < minimum:
                errors.setdefault("qualifying_years", []).append(
                    _("该专业主诊医师至少需要 %(n)s 年相关临床经验(《医疗美容服务管理办法》第十一条)")
                    % {"n": minimum}
                )
        elif self.subject:
            errors.setdefault("subject", []).append(_("只有主诊医师备案填写专业"))
        if kind in (
            QualificationKind.PRACTICE_LICENCE,
            QualificationKind.TITLE_CERTIFICATE,
            QualificationKind.NURSE_REGISTRATION,
            QualificationKind.TRAINING_CERTIFICATE,
        ):
            need("number", _("必须填写证书编号"))
            need("issuer", _("必须填写发证机关"))
        if kind == QualificationKind.NURSE_REGISTRATION:
            need("valid_from", _("护士执业注册必须填写有效期"))
            need("valid_until", _("护士执业注册必须填写有效期"))
            if profession and profession != Profession.NURSE:
                errors.setdefault("kind", []).append(_("只有护士可以登记护士执业注册"))
        if kind == QualificationKind.NURSE_TRAINING_HOURS:
            need("hours", _("必须填写学时"))
            need("year", _("必须填写年度"))
        elif self.hours is not None:
            errors.setdefault("hours", []).append(_("只有护士培训学时填写学时"))
        if kind == QualificationKind.PERIODIC_ASSESSMENT:
            need("valid_until", _("医师定期考核必须填写合格有效期"))
            if profession and profession != Profession.DOCTOR:
                errors.setdefault("kind", []).append(_("只有医师参加医师定期考核"))
        if kind in (QualificationKind.AESTHETIC_TRAINING, QualificationKind.AESTHETIC_CLINICAL_WORK):
            need("duration_months", _("必须填写时长(月)"))
        elif self.duration_months is not None:
            errors.setdefault("duration_months", []).append(_("只有美容医学培训/进修和美容临床工作填写时长"))
        if kind == QualificationKind.CME_CREDITS:
            need("credits", _("必须填写学分"))
            need("credit_class", _("必须填写学分类别"))
            need("year", _("必须填写年度"))
        else:
            if self.credits is not None:
                errors.setdefault("credits", []).append(_("只有继续医学教育填写学分"))
            if self.credit_class:
                errors.setdefault("credit_class", []).append(_("只有继续医学教育填写学分类别"))
        if self.product_reference and kind != QualificationKind.TRAINING_CERTIFICATE:
            errors.setdefault("product_reference", []).append(_("只有培训证书填写产品/设备型号"))
        if self.year is not None and not (1950 <= self.year <= 2100):
            errors.setdefault("year", []).append(_("年度无效"))
        _raise(errors)


class Supplier(models.Model):
    """A supplier or manufacturer (OneToOne to a supplier-kind Organization). Shared reference data."""

    organization = models.OneToOneField(
        "core.Organization", on_delete=models.PROTECT, related_name="supplier", verbose_name=_("组织")
    )
    name = models.CharField(_("企业名称"), max_length=128)
    credit_code = models.CharField(
        _("统一社会信用代码"), max_length=18, unique=True, validators=[v.validate_credit_code]
    )
    business_licence_no = models.CharField(
        _("营业执照编号"), max_length=30, validators=[business_licence_validator]
    )
    business_licence_valid_from = models.DateField(_("营业执照有效期自"))
    business_licence_valid_until = models.DateField(_("营业执照有效期至(空为长期)"), null=True, blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("organization",),
        write_path="organization",
        write_roles=SUPPLIER_WRITERS,
        shared_read=True,
    )

    class Meta:
        verbose_name = _("供应商")
        verbose_name_plural = _("供应商")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def audit_organization_id(self) -> int | None:
        return self.organization_id

    def normalize(self) -> None:
        self.name = (self.name or "").strip()
        self.credit_code = v.normalize_code(self.credit_code)
        self.business_licence_no = v.normalize_code(self.business_licence_no)

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        _check_range(
            errors,
            self.business_licence_valid_from,
            self.business_licence_valid_until,
            "business_licence_valid_until",
        )
        _raise(errors)


class DistributionAuthorization(models.Model):
    """A brand owner / registrant authorises the supplier to distribute (DD-01 designated wholesaler)."""

    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, related_name="authorizations", verbose_name=_("供应商")
    )
    brand = models.CharField(_("品牌"), max_length=128)
    registrant = models.CharField(_("注册人/生产企业"), max_length=128)
    territory = models.CharField(_("授权区域"), max_length=128, blank=True, help_text=_("如:湖南省、全国"))
    valid_from = models.DateField(_("有效期自"))
    valid_until = models.DateField(_("有效期至"))
    evidence = models.FileField(
        _("授权书"), upload_to=EVIDENCE_UPLOAD, blank=True, validators=[v.validate_evidence_file]
    )
    note = models.TextField(_("备注"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("supplier__organization",),
        write_path="supplier__organization",
        write_roles=SUPPLIER_WRITERS,
        shared_read=True,
    )

    class Meta:
        verbose_name = _("经销授权")
        verbose_name_plural = _("经销授权")
        ordering = ["supplier_id", "brand", "-valid_until"]

    def __str__(self) -> str:
        return f"{self.supplier} · {self.brand}"

    def audit_organization_id(self) -> int | None:
        return self.supplier.organization_id

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        _check_range(errors, self.valid_from, self.valid_until, "valid_until")
        _raise(errors)

    def is_valid_on(self, on: dt.date) -> bool:
        return self.valid_from <= on <= self.valid_until


class Product(models.Model):
    """A drug, device or material with its NMPA registration (DD-03/DD-04). Shared reference data."""

    generic_name = models.CharField(_("通用名称"), max_length=128)
    brand_name = models.CharField(_("商品名/品牌"), max_length=128, blank=True)
    kind = models.CharField(_("类别"), max_length=16, choices=ProductKind.choices)
    registration_no = models.CharField(_("注册证/备案/批准文号"), max_length=64)
    registrant = models.CharField(_("注册人/上市许可持有人"), max_length=128)
    registration_valid_until = models.DateField(_("注册证有效期至"))
    risk_class = models.CharField(_("管理类别"), max_length=4, choices=RiskClass.choices, blank=True)
    high_risk = models.BooleanField(_("高风险"), default=False)
    category = models.CharField(
        _("成分/品类"), max_length=32, choices=ProductCategory.choices, default=ProductCategory.OTHER
    )
    dose_unit = models.CharField(_("剂量单位"), max_length=8, choices=DoseUnit.choices)
    # Storage and transport at 2–8 °C (the label's storage condition): receipts must record the temperature.
    cold_chain = models.BooleanField(_("需冷链储运(2–8℃)"), default=False)
    # UDI-DI (DD-05): the GTIN-14 printed as (01) in the product's UDI; lets a scanned UDI find its lot.
    udi_di = models.CharField(
        _("UDI-DI (GTIN)"), max_length=14, blank=True, db_index=True, validators=[v.validate_gtin]
    )
    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, related_name="products", verbose_name=_("供应商")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("supplier__organization",),
        write_path="supplier__organization",
        write_roles=SUPPLIER_WRITERS,
        shared_read=True,
    )

    class Meta:
        verbose_name = _("产品")
        verbose_name_plural = _("产品")
        ordering = ["generic_name", "brand_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "registration_no"], name="uniq_product_supplier_regno"
            )
        ]

    def __str__(self) -> str:
        return f"{self.brand_name or self.generic_name} ({self.registration_no})"

    def audit_organization_id(self) -> int | None:
        return self.supplier.organization_id

    def normalize(self) -> None:
        self.registration_no = (self.registration_no or "").strip().replace(" ", "")

    def is_registration_valid(self, on: dt.date) -> bool:
        return on <= self.registration_valid_until

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        is_device_like = self.kind in (ProductKind.DEVICE, ProductKind.MATERIAL)
        if is_device_like and not self.risk_class:
            errors["risk_class"] = [_("医疗器械和耗材必须填写管理类别")]
        if self.kind == ProductKind.DRUG and self.risk_class:
            errors["risk_class"] = [_("药品不填写器械管理类别")]
        if self.kind and self.registration_no and "risk_class" not in errors:
            try:
                v.validate_registration_no(self.registration_no, self.kind, self.risk_class)
            except ValidationError as exc:
                errors["registration_no"] = exc.messages
        if self.category in HIGH_RISK_CATEGORIES and not self.high_risk:
            errors.setdefault("high_risk", []).append(_("肉毒毒素和透明质酸钠产品必须标记为高风险"))
        if self.category == ProductCategory.BOTULINUM_TOXIN_A:
            if self.kind != ProductKind.DRUG:
                errors.setdefault("kind", []).append(_("A型肉毒毒素按药品管理(国食药监办〔2008〕405号)"))
            if self.dose_unit != DoseUnit.U:
                errors.setdefault("dose_unit", []).append(_("A型肉毒毒素剂量单位应为 U"))
        if (
            self.category == ProductCategory.HYALURONIC_ACID
            and self.kind != ProductKind.DRUG
            and (self.risk_class and self.risk_class != RiskClass.CLASS_III)
        ):
            errors.setdefault("risk_class", []).append(
                _("注射用透明质酸钠为第三类医疗器械(国家药监局公告2022年第103号)")
            )
        _raise(errors)


class Lot(models.Model):
    """A lot (批号) of a product held by an institution."""

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="lots", verbose_name=_("产品")
    )
    lot_no = models.CharField(_("批号"), max_length=40)
    production_date = models.DateField(_("生产日期"), null=True, blank=True)
    expiry_date = models.DateField(_("失效日期"))
    # A cached total written only by the inventory ledger (the sum of its movements), never typed: ADR 0016.
    quantity = models.DecimalField(
        _("数量"),
        max_digits=12,
        decimal_places=3,
        default=0,
        editable=False,
        validators=[MinValueValidator(0)],
    )
    unit = models.CharField(_("单位"), max_length=8, choices=DoseUnit.choices)
    status = models.CharField(
        _("状态"), max_length=16, choices=LotStatus.choices, default=LotStatus.AVAILABLE
    )
    recall_level = models.PositiveSmallIntegerField(
        _("召回级别"), choices=RecallLevel.choices, null=True, blank=True
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="lots", verbose_name=_("所属机构")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institution__organization",),
        write_path="institution__organization",
        write_roles=STOCK_WRITERS,
    )

    class Meta:
        verbose_name = _("批次")
        verbose_name_plural = _("批次")
        ordering = ["expiry_date", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "lot_no", "institution"], name="uniq_lot_product_no_inst"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product.brand_name or self.product.generic_name} {self.lot_no}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    def normalize(self) -> None:
        self.lot_no = (self.lot_no or "").strip()

    def is_expired(self, on: dt.date) -> bool:
        return self.expiry_date < on

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        _check_range(errors, self.production_date, self.expiry_date, "expiry_date")
        if self.status == LotStatus.RECALLED and not self.recall_level:
            errors["recall_level"] = [_("召回状态必须填写召回级别")]
        if self.status != LotStatus.RECALLED and self.recall_level:
            errors["recall_level"] = [_("只有召回状态填写召回级别")]
        _raise(errors)


class Device(models.Model):
    """A piece of equipment (e.g. an RF device) at an institution, with inspection/calibration intervals."""

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="devices", verbose_name=_("产品")
    )
    serial_no = models.CharField(_("序列号"), max_length=64, blank=True)
    udi = models.CharField(_("UDI"), max_length=128, blank=True, validators=[v.validate_udi])
    udi_di = models.CharField(_("UDI-DI (GTIN)"), max_length=14, blank=True, editable=False)
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="devices", verbose_name=_("所属机构")
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE
    )
    last_inspection_on = models.DateField(_("上次检查日期"), null=True, blank=True)
    inspection_interval_days = models.PositiveIntegerField(
        _("检查周期(天)"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    last_calibration_on = models.DateField(_("上次校准日期"), null=True, blank=True)
    calibration_interval_days = models.PositiveIntegerField(
        _("校准周期(天)"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    # Derived on save from the last date + interval; never typed in.
    next_inspection_due = models.DateField(_("下次检查到期"), null=True, blank=True, editable=False)
    next_calibration_due = models.DateField(_("下次校准到期"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institution__organization",),
        write_path="institution__organization",
        write_roles=STOCK_WRITERS,
    )
    # The institution policy's intervals (本机构规范 device_inspection_days / device_calibration_days), set by
    # the actions before saving: a blank interval above uses them (not stored; see docs/equipment.md).
    policy_inspection_days: int | None = None
    policy_calibration_days: int | None = None

    class Meta:
        verbose_name = _("设备")
        verbose_name_plural = _("设备")
        ordering = ["institution_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "product", "serial_no"],
                condition=~Q(serial_no=""),
                name="uniq_device_serial",
            )
        ]

    def __str__(self) -> str:
        return f"{self.product.brand_name or self.product.generic_name} {self.serial_no or self.udi_di}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    @staticmethod
    def _due(last: dt.date | None, days: int | None) -> dt.date | None:
        return last + dt.timedelta(days=days) if last and days else None

    def normalize(self) -> None:
        self.serial_no = (self.serial_no or "").strip()
        self.udi = (self.udi or "").strip()
        self.udi_di = ""
        if self.udi:
            try:
                parsed = v.parse_udi(self.udi)
            except ValidationError:
                return  # reported by full_clean
            self.udi_di = parsed.gtin
            if not self.serial_no and parsed.serial:
                self.serial_no = parsed.serial
        self.next_inspection_due = self._due(self.last_inspection_on, self.effective_inspection_days)
        self.next_calibration_due = self._due(self.last_calibration_on, self.effective_calibration_days)

    @property
    def effective_inspection_days(self) -> int | None:
        """The device's own interval, else the institution policy's."""
        return self.inspection_interval_days or self.policy_inspection_days

    @property
    def effective_calibration_days(self) -> int | None:
        return self.calibration_interval_days or self.policy_calibration_days

    def is_overdue(self, on: dt.date) -> bool:
        return any(
            due is not None and due < on for due in (self.next_inspection_due, self.next_calibration_due)
        )

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        if not self.serial_no and not self.udi:
            errors["serial_no"] = [_("序列号和 UDI 至少填写一项")]
        if self.product_id and self.product.kind != ProductKind.DEVICE:
            errors["product"] = [_("设备必须关联医疗器械类产品")]
        if self.udi and self.serial_no:
            try:
                parsed = v.parse_udi(self.udi)
            except ValidationError:
                parsed = None
            if parsed and parsed.serial and parsed.serial != self.serial_no:
                errors.setdefault("udi", []).append(_("UDI 中的序列号 (21) 与序列号不一致"))
        for last, days, field in (
            (self.last_inspection_on, self.effective_inspection_days, "inspection_interval_days"),
            (self.last_calibration_on, self.effective_calibration_days, "calibration_interval_days"),
        ):
            if last and not days:
                errors.setdefault(field, []).append(_("填写了上次日期时必须填写周期"))
        _raise(errors)


REGISTRY_MODELS: tuple[type[models.Model], ...] = (
    Institution,
    Practitioner,
    PractitionerSite,
    Qualification,
    Supplier,
    DistributionAuthorization,
    Product,
    Lot,
    Device,
)
