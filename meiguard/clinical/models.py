"""The treatment case: the client file (一人一档), PIPL consent, photos, and the chain consultation → informed
consent → pre-operative assessment → graded review → surgical safety checklist → operation record → usage.

Models hold fields, constraints and small pure properties. Writes happen only in ``actions.py``; reads go
through ``visible_to`` / ``writable_by``. Nothing here is ever deleted (``on_delete=PROTECT`` everywhere): lot
and device uses of a client are kept permanently (DD-08), and the record is the medical record.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.registry.crypto import EncryptedCharField, mask_id_number
from meiguard.registry.storage import EncryptedFileSystemStorage

from .choices import (
    CLINICAL_ADMINS,
    CLINICAL_WRITERS,
    CaseStatus,
    ChecklistNodeKind,
    ConsentDecision,
    DocumentType,
    PhotoKind,
    RecordStatus,
    ReviewKind,
    ReviewStatus,
    RiskLevel,
    Sex,
    SignerRelation,
    SignStatus,
    Verdict,
)

INST_ORG = "institution__organization"


def mask_phone(phone: str | None) -> str:
    """``13912345678`` → ``139****5678``."""
    p = phone or ""
    return p[:3] + "****" + p[-4:] if len(p) >= 8 else "*" * len(p)


CASE_ORG = "case__institution__organization"


def _policy(path: str, roles: frozenset[str] = CLINICAL_WRITERS) -> TenantPolicy:
    return TenantPolicy(read_paths=(path,), write_path=path, write_roles=roles)


def content_hash(data: Any) -> str:
    """SHA-256 of canonical JSON (sorted keys, no spaces): the same content always has the same hash."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PrivateStorage(EncryptedFileSystemStorage):
    """Photos live outside MEDIA_ROOT, encrypted at rest like every uploaded file (``FIELD_ENCRYPTION_KEY``),
    and have no URL: they are served only by a view that checks access and writes an audit entry for every
    view. ``PRIVATE_MEDIA_ROOT`` (default: ``private-media`` beside MEDIA_ROOT)."""

    @property
    def base_location(self) -> Any:  # type: ignore[override]
        configured = getattr(settings, "PRIVATE_MEDIA_ROOT", None)
        return str(configured or Path(settings.MEDIA_ROOT).parent / "private-media")

    @property
    def location(self) -> Any:  # type: ignore[override]
        return os.path.abspath(self.base_location)

    @property
    def base_url(self) -> Any:  # type: ignore[override]
        return None


def private_storage() -> PrivateStorage:
    return PrivateStorage()


class ClinicalSettings(models.Model):
    """An institution's clinical policy: the assessment scoring thresholds and the checklist parties."""

    institution = models.OneToOneField(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="clinical_settings",
        verbose_name=_("机构"),
    )
    medium_risk_from = models.PositiveSmallIntegerField(_("中风险起始分"), default=4)
    high_risk_from = models.PositiveSmallIntegerField(_("高风险起始分"), default=8)
    fail_from = models.PositiveSmallIntegerField(_("评估不达标起始分"), default=12)
    two_party_checklist_under_local = models.BooleanField(
        _("局部麻醉手术由手术医师与护士两方核查"), default=True
    )
    version = models.PositiveIntegerField(_("版本"), default=1)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy(INST_ORG, CLINICAL_ADMINS)

    class Meta:
        verbose_name = _("机构诊疗设置")
        verbose_name_plural = _("机构诊疗设置")
        constraints = [
            models.CheckConstraint(
                condition=Q(medium_risk_from__lte=models.F("high_risk_from"))
                & Q(high_risk_from__lte=models.F("fail_from")),
                name="clin_settings_thresholds_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.institution_id} v{self.version}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class ProcedurePrice(models.Model):
    """The institution's published price of a procedure (明码标价); a consultation proposes only priced items."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构")
    )
    procedure_code = models.CharField(_("项目编码"), max_length=64)
    price = models.DecimalField(
        _("价格(元)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    published_at = models.DateTimeField(_("公示时间"))
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy(INST_ORG, CLINICAL_ADMINS)

    class Meta:
        verbose_name = _("项目公示价格")
        verbose_name_plural = _("项目公示价格")
        constraints = [
            models.UniqueConstraint(fields=["institution", "procedure_code"], name="uniq_clin_price_proc")
        ]

    def __str__(self) -> str:
        return f"{self.procedure_code} ¥{self.price}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class Client(models.Model):
    """One person, one file (一人一档) per institution: identity, contact and the health background."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="clients", verbose_name=_("机构")
    )
    name = models.CharField(_("姓名"), max_length=64)
    sex = models.CharField(_("性别"), max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    date_of_birth = models.DateField(_("出生日期"))
    phone = models.CharField(_("手机号"), max_length=20)
    document_type = models.CharField(_("证件类型"), max_length=24, choices=DocumentType.choices)
    id_number = EncryptedCharField(_("证件号码"))
    id_number_index = models.CharField(max_length=64, editable=False)
    nationality = models.CharField(_("国籍/地区"), max_length=64, default="中国")
    allergies = models.TextField(_("过敏史"), blank=True)
    medical_history = models.TextField(_("既往病史"), blank=True)
    medications = models.TextField(_("正在使用的药物"), blank=True)
    previous_treatments = models.TextField(_("既往医美治疗"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("建档人"),
    )
    created_at = models.DateTimeField(_("建档时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy(INST_ORG)
    audit_masked_fields = ("id_number", "id_number_index")

    class Meta:
        verbose_name = _("求美者档案")
        verbose_name_plural = _("求美者档案")
        ordering = ["name", "pk"]
        constraints = [
            # 一人一档: one file per document per institution; the blind index makes it enforceable.
            models.UniqueConstraint(
                fields=["institution", "document_type", "id_number_index"], name="uniq_clin_client_document"
            )
        ]
        indexes = [
            # Name prefix search: on PostgreSQL LIKE 'prefix%' needs a pattern operator class whatever the
            # database collation; elsewhere the opclasses are ignored (SQLite searches the prefix as a range).
            models.Index(
                fields=["institution", "name"],
                name="clin_client_inst_name_pat",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
            models.Index(fields=["institution", "phone"], name="clin_client_inst_phone"),
            models.Index(fields=["institution", "id_number_index"], name="clin_client_inst_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    def audit_extra(self) -> dict[str, Any]:
        return {"id_number_masked": self.masked_id_number}

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number or "")

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


class PrivacyConsent(models.Model):
    """Separate consent (单独同意, PIPL) to process sensitive personal information, with purpose and retention."""

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="privacy_consents", verbose_name=_("求美者")
    )
    purpose = models.TextField(_("处理目的"))
    scope = models.JSONField(_("信息范围"), default=list)
    retention_years = models.PositiveSmallIntegerField(
        _("保存期限(年)"), validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    notice_version = models.CharField(_("告知书版本"), max_length=32)
    granted_at = models.DateTimeField(_("同意时间"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("记录人"),
    )
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    withdrawal_reason = models.TextField(_("撤回说明"), blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy("client__institution__organization")

    class Meta:
        verbose_name = _("个人敏感信息处理同意")
        verbose_name_plural = _("个人敏感信息处理同意")
        ordering = ["-granted_at", "-pk"]
        indexes = [models.Index(fields=["client", "-granted_at"], name="clin_privacy_client")]

    def __str__(self) -> str:
        return f"{self.client} {self.notice_version}"

    def audit_organization_id(self) -> int | None:
        return self.client.institution.organization_id

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


class Case(models.Model):
    """One treatment of one client: a procedure from the rule-pack catalog, its people and its status."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="cases", verbose_name=_("机构")
    )
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="cases", verbose_name=_("求美者")
    )
    code = models.CharField(_("病例条码"), max_length=32, unique=True)
    procedure_code = models.CharField(_("项目编码"), max_length=64)
    # Copied from the resolved pack when the case is opened, so the case reads the same after a pack changes.
    procedure_name = models.CharField(_("项目名称"), max_length=128)
    grade = models.PositiveSmallIntegerField(_("手术级别"), null=True, blank=True)
    invasiveness = models.CharField(_("侵入性"), max_length=16)
    anesthesia = models.CharField(_("麻醉方式"), max_length=16, blank=True)
    operator = models.ForeignKey(
        "registry.Practitioner", on_delete=models.PROTECT, related_name="+", verbose_name=_("主诊/手术医师")
    )
    anesthetist = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("麻醉医师"),
    )
    nurse = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("护士"),
    )
    status = models.CharField(_("状态"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    # When the treatment is planned: a surgical case whose time has come without checklist node 1 complete is
    # reminded (actions.due_checklist_nodes).
    scheduled_at = models.DateTimeField(_("计划时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy(INST_ORG)

    class Meta:
        verbose_name = _("病例")
        verbose_name_plural = _("病例")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["client", "-created_at"], name="clin_case_client"),
            models.Index(fields=["institution", "status", "-created_at"], name="clin_case_inst_status"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.procedure_name}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    @property
    def is_surgical(self) -> bool:
        return self.invasiveness == "surgical"

    @property
    def invasiveness_label(self) -> str:
        from meiguard.rules.choices import Invasiveness

        return _label(Invasiveness, self.invasiveness)

    @property
    def anesthesia_label(self) -> str:
        from meiguard.rules.choices import Anesthesia

        return _label(Anesthesia, self.anesthesia)

    @property
    def needs_anesthetist(self) -> bool:
        """Anaesthesia beyond local (PG-01) needs an anaesthetist's signature on the assessment and checklist."""
        return bool(self.anesthesia) and self.anesthesia != "local"


class CaseStep(models.Model):
    """A step of a case (consultation, consent, assessment, review, checklist node, record): read and written
    through its case's institution, audited in that institution's chain."""

    objects = TenantQuerySet.as_manager()
    tenancy = _policy(CASE_ORG)

    class Meta:
        abstract = True

    def audit_organization_id(self) -> int | None:
        return self.case.institution.organization_id  # type: ignore[attr-defined]


class Consultation(CaseStep):
    """面诊: a consultant may prepare it, a doctor must sign it (导购代替医生面诊 is the named problem)."""

    case = models.OneToOneField(
        Case, on_delete=models.PROTECT, related_name="consultation", verbose_name=_("病例")
    )
    needs = models.TextField(_("求美需求"))
    findings = models.TextField(_("面诊所见与建议"), blank=True)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("准备人"),
    )
    doctor = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("面诊医师"),
    )
    status = models.CharField(_("状态"), max_length=8, choices=SignStatus.choices, default=SignStatus.DRAFT)
    signed_at = models.DateTimeField(_("签署时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("面诊记录")
        verbose_name_plural = _("面诊记录")

    def __str__(self) -> str:
        return f"{self.case.code} 面诊"


class ConsultationItem(models.Model):
    """A proposed procedure with the institution's published price at the time of the consultation."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.PROTECT, related_name="items", verbose_name=_("面诊")
    )
    procedure_code = models.CharField(_("项目编码"), max_length=64)
    procedure_name = models.CharField(_("项目名称"), max_length=128)
    price = models.DecimalField(_("公示价格(元)"), max_digits=12, decimal_places=2)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy("consultation__case__institution__organization")

    class Meta:
        verbose_name = _("拟行项目")
        verbose_name_plural = _("拟行项目")
        constraints = [
            models.UniqueConstraint(fields=["consultation", "procedure_code"], name="uniq_clin_consult_item")
        ]

    def __str__(self) -> str:
        return f"{self.procedure_name} ¥{self.price}"

    def audit_organization_id(self) -> int | None:
        return self.consultation.case.institution.organization_id


class ConsentTemplate(models.Model):
    """The risk disclosure and informed-consent text of one procedure, versioned per institution."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构")
    )
    procedure_code = models.CharField(_("项目编码"), max_length=64)
    version = models.PositiveIntegerField(_("版本"))
    title = models.CharField(_("标题"), max_length=128)
    body = models.TextField(_("告知内容"))
    risks = models.TextField(_("风险与并发症"))
    alternatives = models.TextField(_("替代方案"))
    content_hash = models.CharField(_("内容摘要"), max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("编写人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy(INST_ORG, CLINICAL_ADMINS)

    class Meta:
        verbose_name = _("知情同意书模板")
        verbose_name_plural = _("知情同意书模板")
        ordering = ["procedure_code", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "procedure_code", "version"], name="uniq_clin_consent_tpl_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    def content(self) -> dict[str, str]:
        return {
            "title": self.title,
            "body": self.body,
            "risks": self.risks,
            "alternatives": self.alternatives,
        }

    def compute_hash(self) -> str:
        return content_hash(self.content())


class ConsentSignature(CaseStep):
    """The client's decision on one template version: signed (with the drawn signature) or refused; a signed
    consent may later be withdrawn. At most one signed, unwithdrawn consent per case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="consents", verbose_name=_("病例"))
    template = models.ForeignKey(
        ConsentTemplate, on_delete=models.PROTECT, related_name="+", verbose_name=_("模板")
    )
    template_version = models.PositiveIntegerField(_("模板版本"))
    content_hash = models.CharField(_("签署内容摘要"), max_length=64)
    decision = models.CharField(_("决定"), max_length=8, choices=ConsentDecision.choices)
    signer_name = models.CharField(_("签署人"), max_length=64)
    signer_relation = models.CharField(
        _("与求美者关系"), max_length=8, choices=SignerRelation.choices, default=SignerRelation.SELF
    )
    signature_image = models.TextField(_("手写签名(PNG data URL)"), blank=True)
    signature_hash = models.CharField(_("签名摘要"), max_length=64, blank=True)
    signed_at = models.DateTimeField(_("签署时间"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("见证人"),
    )
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    withdrawal_reason = models.TextField(_("撤回说明"), blank=True)

    class Meta:
        verbose_name = _("知情同意签署")
        verbose_name_plural = _("知情同意签署")
        ordering = ["-signed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(decision="signed", withdrawn_at__isnull=True),
                name="uniq_clin_consent_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case.code} {self.get_decision_display()}"


class Assessment(CaseStep):
    """术前评估: answers to the standard form, the computed score and risk level, and the double signature."""

    case = models.OneToOneField(
        Case, on_delete=models.PROTECT, related_name="assessment", verbose_name=_("病例")
    )
    form_version = models.CharField(_("评估表版本"), max_length=16)
    answers = models.JSONField(_("评估项"), default=dict)
    asa_class = models.PositiveSmallIntegerField(
        _("ASA 分级"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(6)]
    )
    score = models.PositiveSmallIntegerField(_("评分"))
    risk_level = models.CharField(_("风险等级"), max_length=8, choices=RiskLevel.choices)
    passed = models.BooleanField(_("评估达标"))
    findings = models.JSONField(_("风险提示"), default=list)
    policy_version = models.PositiveIntegerField(_("评分规则版本"))
    chief_signed_by = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("主诊医师签名"),
    )
    chief_signed_at = models.DateTimeField(_("主诊医师签名时间"), null=True, blank=True)
    chief_decision = models.ForeignKey(
        "authz.DecisionLog", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    anesthetist_signed_by = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("麻醉医师签名"),
    )
    anesthetist_signed_at = models.DateTimeField(_("麻醉医师签名时间"), null=True, blank=True)
    anesthetist_decision = models.ForeignKey(
        "authz.DecisionLog", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("填写人"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("术前评估")
        verbose_name_plural = _("术前评估")
        constraints = [
            models.CheckConstraint(
                condition=Q(anesthetist_signed_by__isnull=True)
                | ~Q(anesthetist_signed_by=models.F("chief_signed_by")),
                name="clin_assessment_two_signers",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case.code} 术前评估"


class Review(CaseStep):
    """分级评估: a committee review (case discussion + N of M approvals) for high risk, or the 主诊 + nurse
    confirmation with the automatic risk warnings for medium and low risk."""

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="review", verbose_name=_("病例"))
    kind = models.CharField(_("审核方式"), max_length=16, choices=ReviewKind.choices)
    risk_level = models.CharField(_("风险等级"), max_length=8, choices=RiskLevel.choices)
    warnings = models.JSONField(_("风险预警"), default=list)
    status = models.CharField(
        _("状态"), max_length=8, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    department = models.CharField(_("讨论科室"), max_length=64, blank=True)
    discussion = models.TextField(_("病例讨论记录"), blank=True)
    discussed_at = models.DateTimeField(_("讨论时间"), null=True, blank=True)
    committee = models.ForeignKey(
        "workflow.ExpertCommittee",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("医疗质量与安全管理委员会"),
    )
    required_approvals = models.PositiveSmallIntegerField(_("所需同意票数"), default=0)
    chief_confirmed_by = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("主诊医师确认"),
    )
    nurse_confirmed_by = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("护士确认"),
    )
    decided_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("分级评估")
        verbose_name_plural = _("分级评估")

    def __str__(self) -> str:
        return f"{self.case.code} {self.get_kind_display()}"


class ReviewVote(models.Model):
    review = models.ForeignKey(Review, on_delete=models.PROTECT, related_name="votes", verbose_name=_("审核"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(_("意见"), max_length=8, choices=Verdict.choices)
    comment = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy("review__case__institution__organization")

    class Meta:
        verbose_name = _("委员会意见")
        verbose_name_plural = _("委员会意见")
        ordering = ["created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["review", "user"], name="uniq_clin_review_vote")]

    def __str__(self) -> str:
        return f"{self.review_id} {self.verdict}"

    def audit_organization_id(self) -> int | None:
        return self.review.case.institution.organization_id


class ChecklistNode(CaseStep):
    """One of the three nodes of the surgical safety checklist (手术安全核查, SP-01), one row per case and node."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="checklist", verbose_name=_("病例"))
    node = models.CharField(_("核查节点"), max_length=24, choices=ChecklistNodeKind.choices)
    items = models.JSONField(_("核查项"), default=dict)
    scanned = models.JSONField(_("扫码确认"), default=list)
    required_parties = models.JSONField(_("须签名方"), default=list)
    surgeon = models.ForeignKey(
        "registry.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    surgeon_signed_at = models.DateTimeField(null=True, blank=True)
    anesthetist = models.ForeignKey(
        "registry.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    anesthetist_signed_at = models.DateTimeField(null=True, blank=True)
    nurse = models.ForeignKey(
        "registry.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    nurse_signed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("手术安全核查")
        verbose_name_plural = _("手术安全核查")
        ordering = ["case_id", "pk"]
        constraints = [models.UniqueConstraint(fields=["case", "node"], name="uniq_clin_checklist_node")]

    def __str__(self) -> str:
        return f"{self.case.code} {self.get_node_display()}"

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None


class OperationRecord(CaseStep):
    """治疗/手术记录: opened only through the gate, with the engine decision that allowed it."""

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="record", verbose_name=_("病例"))
    decision = models.ForeignKey(
        "authz.DecisionLog",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("准入核验"),
    )
    operator = models.ForeignKey(
        "registry.Practitioner", on_delete=models.PROTECT, related_name="+", verbose_name=_("操作医师")
    )
    status = models.CharField(
        _("状态"), max_length=8, choices=RecordStatus.choices, default=RecordStatus.OPEN
    )
    opened_at = models.DateTimeField(_("开始时间"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("开启人"),
    )
    notes = models.TextField(_("记录"), blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    operator_signed_at = models.DateTimeField(_("操作医师签名时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("治疗/手术记录")
        verbose_name_plural = _("治疗/手术记录")

    def __str__(self) -> str:
        return f"{self.case.code} 记录"


class Usage(models.Model):
    """One product lot or device used on the client during a record, with the actual dose and site timer.

    Denormalised client and institution make "which clients received lot X" and "what went into client Y"
    one indexed query each. Kept permanently (DD-08)."""

    record = models.ForeignKey(
        OperationRecord, on_delete=models.PROTECT, related_name="usages", verbose_name=_("记录")
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+", db_index=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+", db_index=False)
    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    usage_key = models.CharField(_("录入标识"), max_length=64)
    scanned_code = models.CharField(_("扫码内容"), max_length=128, blank=True)
    lot = models.ForeignKey(
        "registry.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    unit_serial = models.CharField(_("最小包装序列号"), max_length=64, blank=True)
    device = models.ForeignKey(
        "registry.Device", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    dose_value = models.DecimalField(_("实际剂量"), max_digits=10, decimal_places=3, null=True, blank=True)
    dose_unit = models.CharField(_("剂量单位"), max_length=8, blank=True)
    site = models.CharField(_("部位"), max_length=64, blank=True)
    minutes = models.PositiveIntegerField(_("部位操作时长(分钟)"), null=True, blank=True)
    decision = models.ForeignKey(
        "authz.DecisionLog",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("核验"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("记录人"),
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy("institution__organization")

    class Meta:
        verbose_name = _("用药/耗材/设备使用")
        verbose_name_plural = _("用药/耗材/设备使用")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["record", "usage_key"], name="uniq_clin_usage_key"),
            # One unit (UDI with a serial) goes into one person once.
            models.UniqueConstraint(
                fields=["lot", "unit_serial"], condition=~Q(unit_serial=""), name="uniq_clin_usage_unit"
            ),
            models.CheckConstraint(
                condition=Q(lot__isnull=False) | Q(device__isnull=False), name="clin_usage_lot_or_device"
            ),
        ]
        indexes = [
            models.Index(fields=["lot", "client"], name="clin_usage_lot_client"),
            models.Index(fields=["device", "client"], name="clin_usage_device_client"),
            models.Index(fields=["client", "created_at"], name="clin_usage_client"),
            models.Index(fields=["record", "created_at"], name="clin_usage_record"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.lot_id or self.device_id}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class ClientPhoto(models.Model):
    """A before/after photo, stored privately; every view is an audit entry."""

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="photos", verbose_name=_("求美者")
    )
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.PROTECT, related_name="photos", verbose_name=_("病例")
    )
    kind = models.CharField(_("类型"), max_length=8, choices=PhotoKind.choices)
    file = models.FileField(_("文件"), upload_to="clinical/photos/%Y/%m/", storage=private_storage)
    sha256 = models.CharField(max_length=64, editable=False)
    taken_at = models.DateTimeField(_("拍摄时间"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("上传人"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy("client__institution__organization")

    class Meta:
        verbose_name = _("照片")
        verbose_name_plural = _("照片")
        ordering = ["taken_at", "pk"]

    def __str__(self) -> str:
        return f"{self.client} {self.get_kind_display()}"

    def audit_organization_id(self) -> int | None:
        return self.client.institution.organization_id


CLINICAL_MODELS: tuple[type[models.Model], ...] = (
    ClinicalSettings,
    ProcedurePrice,
    Client,
    PrivacyConsent,
    Case,
    Consultation,
    ConsultationItem,
    ConsentTemplate,
    ConsentSignature,
    Assessment,
    Review,
    ReviewVote,
    ChecklistNode,
    OperationRecord,
    Usage,
    ClientPhoto,
)


def _label(choices: Any, value: str) -> str:
    """The readable label of a stored choice value (the value itself if the vocabulary no longer has it)."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value
