"""Vocabulary of the treatment case (ASCII values, Chinese labels)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.choices import Role

# Who may write clinical rows at an institution (clients, cases, and each step's own signer checks on top).
CLINICAL_WRITERS = frozenset(
    {
        Role.INSTITUTION_ADMIN,
        Role.MEDICAL_DIRECTOR,
        Role.COMPLIANCE_OFFICER,
        Role.DOCTOR,
        Role.NURSE,
    }
)
# Who may edit consent templates, prices and the institution's clinical settings.
CLINICAL_ADMINS = frozenset({Role.INSTITUTION_ADMIN, Role.MEDICAL_DIRECTOR, Role.COMPLIANCE_OFFICER})


class DocumentType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("居民身份证")
    PASSPORT = "passport", _("护照")
    HK_MACAU_PERMIT = "hk_macau_permit", _("港澳居民来往内地通行证")
    TAIWAN_PERMIT = "taiwan_permit", _("台湾居民来往大陆通行证")
    FOREIGN_PERMANENT_ID = "foreign_permanent_id", _("外国人永久居留身份证")
    OTHER = "other", _("其他证件")


class Sex(models.TextChoices):
    FEMALE = "female", _("女")
    MALE = "male", _("男")
    UNKNOWN = "unknown", _("未说明")


class PrivacyScope(models.TextChoices):
    HEALTH = "health", _("健康信息(病史、过敏、用药、评估)")
    PHOTOS = "photos", _("面部及身体照片")
    ID_DOCUMENT = "id_document", _("身份证件号码")


class PhotoKind(models.TextChoices):
    BEFORE = "before", _("术前")
    AFTER = "after", _("术后")
    OTHER = "other", _("其他")


class CaseStatus(models.TextChoices):
    OPEN = "open", _("术前准备中")
    IN_OPERATION = "in_operation", _("治疗/手术中")
    CLOSED = "closed", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class SignStatus(models.TextChoices):
    DRAFT = "draft", _("待签署")
    SIGNED = "signed", _("已签署")


class ConsentDecision(models.TextChoices):
    SIGNED = "signed", _("已签署同意")
    REFUSED = "refused", _("拒绝签署")


class SignerRelation(models.TextChoices):
    SELF = "self", _("本人")
    GUARDIAN = "guardian", _("监护人")


class RiskLevel(models.TextChoices):
    LOW = "low", _("低风险")
    MEDIUM = "medium", _("中风险")
    HIGH = "high", _("高风险")


class ReviewKind(models.TextChoices):
    COMMITTEE = "committee", _("科室讨论 + 医疗质量与安全管理委员会审核")
    CONFIRMATION = "confirmation", _("主诊医师与护士确认")


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("未通过")


class Verdict(models.TextChoices):
    APPROVE = "approve", _("同意")
    REJECT = "reject", _("不同意")


class ChecklistNodeKind(models.TextChoices):
    BEFORE_ANESTHESIA = "before_anesthesia", _("麻醉实施前")
    BEFORE_INCISION = "before_incision", _("手术开始前")
    BEFORE_LEAVING = "before_leaving", _("患者离开手术室前")


NODE_ORDER = (
    ChecklistNodeKind.BEFORE_ANESTHESIA,
    ChecklistNodeKind.BEFORE_INCISION,
    ChecklistNodeKind.BEFORE_LEAVING,
)


class ChecklistParty(models.TextChoices):
    SURGEON = "surgeon", _("手术医师")
    ANESTHETIST = "anesthetist", _("麻醉医师")
    NURSE = "nurse", _("手术室护士")


class RecordStatus(models.TextChoices):
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已结束")
