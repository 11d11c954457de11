"""Registry vocabulary. Shared vocabulary (subjects, institution types, titles…) is in rules.choices."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.rules.choices import Subject


class InstitutionStatus(models.TextChoices):
    ACTIVE = "active", _("正常执业")
    SUSPENDED = "suspended", _("暂停执业")
    CLOSED = "closed", _("已注销")


class LicenceKind(models.TextChoices):
    """IN-01: a 医疗机构执业许可证, or for clinics a 诊所备案凭证 [S27]."""

    PRACTICE_LICENCE = "practice_licence", _("医疗机构执业许可证")
    CLINIC_FILING_CERTIFICATE = "clinic_filing_certificate", _("诊所备案凭证")


class PractitionerStatus(models.TextChoices):
    ACTIVE = "active", _("在岗")
    SUSPENDED = "suspended", _("暂停执业")
    LEFT = "left", _("已离职")


class SiteRequestStatus(models.TextChoices):
    PENDING = "pending", _("待确认")
    ACCEPTED = "accepted", _("已同意")
    REFUSED = "refused", _("已拒绝")
    WITHDRAWN = "withdrawn", _("已撤回")


class QualificationKind(models.TextChoices):
    PRACTICE_LICENCE = "practice_licence", _("执业证书")
    CHIEF_PHYSICIAN_FILING = "chief_physician_filing", _("主诊医师备案")
    TITLE_CERTIFICATE = "title_certificate", _("职称证书")
    TRAINING_CERTIFICATE = "training_certificate", _("培训证书(产品/设备培训)")
    NURSE_TRAINING_HOURS = "nurse_training_hours", _("护士培训学时")
    CME_CREDITS = "cme_credits", _("继续医学教育学分")
    NURSE_REGISTRATION = "nurse_registration", _("护士执业注册")
    PERIODIC_ASSESSMENT = "periodic_assessment", _("医师定期考核")
    AESTHETIC_TRAINING = "aesthetic_training", _("美容医学培训/进修")
    AESTHETIC_CLINICAL_WORK = "aesthetic_clinical_work", _("连续从事美容临床工作")


class VerificationStatus(models.TextChoices):
    UNVERIFIED = "unverified", _("未核验")
    VERIFIED = "verified", _("已核验")
    REJECTED = "rejected", _("核验不通过")


class CreditClass(models.TextChoices):
    """PR-08: Class I and Class II credits cannot substitute for each other."""

    CLASS_I = "class_i", _("I类学分")
    CLASS_II = "class_ii", _("II类学分")


class ProductKind(models.TextChoices):
    DRUG = "drug", _("药品")
    DEVICE = "device", _("医疗器械")
    MATERIAL = "material", _("医用耗材")


class RiskClass(models.TextChoices):
    """第一/二/三类医疗器械 (devices and materials only)."""

    CLASS_I = "I", _("第一类")
    CLASS_II = "II", _("第二类")
    CLASS_III = "III", _("第三类")


class ProductCategory(models.TextChoices):
    """Active ingredient / category used by product rules (DD-01, DD-02)."""

    BOTULINUM_TOXIN_A = "botulinum_toxin_a", _("A型肉毒毒素")
    HYALURONIC_ACID = "hyaluronic_acid", _("透明质酸钠")
    COLLAGEN = "collagen", _("胶原蛋白")
    POLY_L_LACTIC_ACID = "poly_l_lactic_acid", _("聚左旋乳酸")
    ENERGY_DEVICE = "energy_device", _("光电设备")
    LOCAL_ANESTHETIC = "local_anesthetic", _("局部麻醉药")
    OTHER = "other", _("其他")


# Categories that are high-risk by nature: the flag must be set for them (DD-01, DD-02).
HIGH_RISK_CATEGORIES = frozenset({ProductCategory.BOTULINUM_TOXIN_A, ProductCategory.HYALURONIC_ACID})


class DoseUnit(models.TextChoices):
    U = "U", _("单位(U)")
    ML = "ml", _("毫升(ml)")
    MG = "mg", _("毫克(mg)")
    G = "g", _("克(g)")
    PIECE = "piece", _("支/个")
    SHOT = "shot", _("发")


class LotStatus(models.TextChoices):
    AVAILABLE = "available", _("可用")
    QUARANTINED = "quarantined", _("隔离待查")
    RECALLED = "recalled", _("已召回")
    USED_UP = "used_up", _("已用完")


class RecallLevel(models.IntegerChoices):
    """DD-09: level 1 serious, 2 temporary/reversible, 3 unlikely harm."""

    LEVEL_1 = 1, _("一级召回")
    LEVEL_2 = 2, _("二级召回")
    LEVEL_3 = 3, _("三级召回")


class DeviceStatus(models.TextChoices):
    ACTIVE = "active", _("在用")
    MAINTENANCE = "maintenance", _("维修保养中")
    # Set by the device file (equipment) when an acceptance, installation, inspection or calibration fails;
    # a later passing record of that kind puts the device back in service.
    FAILED_CHECK = "failed_check", _("检查未通过停用")
    RETIRED = "retired", _("已报废")


# PR-02: minimum years of clinical experience for a 主诊医师 filing, by subject.
CHIEF_FILING_MIN_YEARS = {
    Subject.COSMETIC_SURGERY: 6,
    Subject.COSMETIC_DENTISTRY: 5,
    Subject.COSMETIC_DERMATOLOGY: 3,
    Subject.COSMETIC_TCM: 3,
}

# IN-02: an aesthetic clinic may register at most two of the four subjects.
CLINIC_MAX_SUBJECTS = 2
