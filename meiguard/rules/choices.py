"""Vocabulary shared by rule packs and the registry (rules is upstream of registry)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Subject(models.TextChoices):
    """Second-level aesthetic subjects under 医疗美容科 (IN-01)."""

    COSMETIC_SURGERY = "cosmetic_surgery", _("美容外科")
    COSMETIC_DENTISTRY = "cosmetic_dentistry", _("美容牙科")
    COSMETIC_DERMATOLOGY = "cosmetic_dermatology", _("美容皮肤科")
    COSMETIC_TCM = "cosmetic_tcm", _("美容中医科")


# The Chinese subject names used in procedure_catalog.csv, mapped to the enum.
SUBJECT_BY_ZH = {
    "美容外科": Subject.COSMETIC_SURGERY,
    "美容牙科": Subject.COSMETIC_DENTISTRY,
    "美容皮肤科": Subject.COSMETIC_DERMATOLOGY,
    "美容中医科": Subject.COSMETIC_TCM,
}


class InstitutionType(models.TextChoices):
    """IN-02 institution types."""

    COSMETIC_HOSPITAL = "cosmetic_hospital", _("美容医院")
    AESTHETIC_OUTPATIENT_DEPT = "aesthetic_outpatient_dept", _("医疗美容门诊部")
    AESTHETIC_CLINIC = "aesthetic_clinic", _("医疗美容诊所")
    GENERAL_HOSPITAL = "general_hospital", _("综合医院(设医疗美容科)")
    PLASTIC_SURGERY_HOSPITAL = "plastic_surgery_hospital", _("整形外科医院")


class HospitalLevel(models.TextChoices):
    """医院等级 (一级/二级/三级) — not the procedure grade."""

    LEVEL_1 = "level_1", _("一级")
    LEVEL_2 = "level_2", _("二级")
    LEVEL_3 = "level_3", _("三级")


class Invasiveness(models.TextChoices):
    SURGICAL = "surgical", _("手术")
    INJECTION = "injection", _("注射")
    ENERGY_DEVICE = "energy-device", _("光电")
    NON_INVASIVE = "non-invasive", _("非侵入")


class Anesthesia(models.TextChoices):
    LOCAL = "local", _("局部麻醉")
    EPIDURAL_IV = "epidural-iv", _("硬膜外/静脉全麻")
    GENERAL = "general", _("气管插管全麻")


class Profession(models.TextChoices):
    DOCTOR = "doctor", _("医师")
    NURSE = "nurse", _("护士")
    ANESTHETIST = "anesthetist", _("麻醉医师")
    CONSULTANT = "consultant", _("咨询师")
    TECHNICIAN = "technician", _("技师")


class Title(models.TextChoices):
    """专业技术职务 (GLOSSARY)."""

    NONE = "none", _("无")
    RESIDENT = "resident", _("住院医师/医士")
    ATTENDING = "attending", _("主治医师")
    ASSOCIATE_CHIEF = "associate_chief", _("副主任医师")
    CHIEF = "chief", _("主任医师")
    NURSE = "nurse", _("护士")
    NURSE_PRACTITIONER = "nurse_practitioner", _("护师")
    SUPERVISOR_NURSE = "supervisor_nurse", _("主管护师")


TITLE_RANK = {
    Title.NONE: 0,
    Title.RESIDENT: 1,
    Title.ATTENDING: 2,
    Title.ASSOCIATE_CHIEF: 3,
    Title.CHIEF: 4,
    Title.NURSE: 1,
    Title.NURSE_PRACTITIONER: 2,
    Title.SUPERVISOR_NURSE: 3,
}


class PracticeCategory(models.TextChoices):
    """执业类别."""

    CLINICAL = "clinical", _("临床")
    DENTAL = "dental", _("口腔")
    TCM = "tcm", _("中医")
    PUBLIC_HEALTH = "public_health", _("公共卫生")
    NURSING = "nursing", _("护理")


# 执业范围 values (free-text in licences, normalised to these for rule matching; PR-06).
PRACTICE_SCOPES = [
    "外科",
    "眼耳鼻咽喉科",
    "口腔",
    "口腔颌面外科",
    "儿科",
    "儿外科",
    "皮肤病与性病",
    "中医",
    "中西医结合",
    "内科",
    "妇产科",
    "麻醉科",
    "医学影像和放射治疗",
    "护理",
]


# Province short names as stored on institutions (Organization.province); rule-pack overlays name one.
PROVINCES = [
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
]

# Readable names of the stored Chinese values above, in the reader's language (the values stay as stored).
PRACTICE_SCOPE_LABELS = {
    "外科": _("外科"),
    "眼耳鼻咽喉科": _("眼耳鼻咽喉科"),
    "口腔": _("口腔"),
    "口腔颌面外科": _("口腔颌面外科"),
    "儿科": _("儿科"),
    "儿外科": _("儿外科"),
    "皮肤病与性病": _("皮肤病与性病"),
    "中医": _("中医"),
    "中西医结合": _("中西医结合"),
    "内科": _("内科"),
    "妇产科": _("妇产科"),
    "麻醉科": _("麻醉科"),
    "医学影像和放射治疗": _("医学影像和放射治疗"),
    "护理": _("护理"),
}
PROVINCE_LABELS = {
    "北京": _("北京"),
    "天津": _("天津"),
    "上海": _("上海"),
    "重庆": _("重庆"),
    "河北": _("河北"),
    "山西": _("山西"),
    "辽宁": _("辽宁"),
    "吉林": _("吉林"),
    "黑龙江": _("黑龙江"),
    "江苏": _("江苏"),
    "浙江": _("浙江"),
    "安徽": _("安徽"),
    "福建": _("福建"),
    "江西": _("江西"),
    "山东": _("山东"),
    "河南": _("河南"),
    "湖北": _("湖北"),
    "湖南": _("湖南"),
    "广东": _("广东"),
    "海南": _("海南"),
    "四川": _("四川"),
    "贵州": _("贵州"),
    "云南": _("云南"),
    "陕西": _("陕西"),
    "甘肃": _("甘肃"),
    "青海": _("青海"),
    "台湾": _("台湾"),
    "内蒙古": _("内蒙古"),
    "广西": _("广西"),
    "西藏": _("西藏"),
    "宁夏": _("宁夏"),
    "新疆": _("新疆"),
    "香港": _("香港"),
    "澳门": _("澳门"),
}


class Jurisdiction(models.TextChoices):
    """Who issued a rule pack (PG-05): the national base or a provincial overlay."""

    NATIONAL = "national", _("全国")
    PROVINCIAL = "provincial", _("省级")
    INSTITUTION = "institution", _("机构")


class RuleLevel(models.TextChoices):
    """Where a rule comes from: national law, a province, or an institution's own setting."""

    NATIONAL = "national", _("国家规定")
    PROVINCIAL = "provincial", _("省级规定")
    INSTITUTION = "institution", _("机构设定")


class SourceKind(models.TextChoices):
    """What kind of document a rule rests on (the sources register, packs/sources.yaml)."""

    LAW = "law", _("法律")
    ADMINISTRATIVE_REGULATION = "administrative_regulation", _("行政法规")
    DEPARTMENTAL_RULE = "departmental_rule", _("部门规章")
    NORMATIVE_DOCUMENT = "normative_document", _("规范性文件")
    STANDARD = "standard", _("标准")
    PROVINCIAL = "provincial", _("地方规定")
    ASSOCIATION = "association", _("行业协会规定")
    INSTITUTION_POLICY = "institution_policy", _("机构规范")


class RuleOp(models.TextChoices):
    """How a rule in a version acts: national packs only add; overlays add, change or remove."""

    ADD = "add", _("新增")
    CHANGE = "change", _("修改")
    REMOVE = "remove", _("删除")


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")


class RuleKind(models.TextChoices):
    PROCEDURE = "procedure", _("医疗美容项目")
    GRADE_GATE = "grade_gate", _("分级手术科目门槛")
    INSTITUTION_GRADE = "institution_grade", _("机构可开展的手术级别")
    CHIEF_PHYSICIAN = "chief_physician", _("主诊医师条件")
    PRACTICE_SCOPE = "practice_scope", _("执业范围对应科目")
    SUPERVISION = "supervision", _("非主诊医师的指导")
    NURSE_QUALIFICATION = "nurse_qualification", _("美容护理人员条件")
    NURSE_SCOPE = "nurse_scope", _("护士可独立操作的项目")
    ANESTHESIA = "anesthesia", _("麻醉要求")
    TECHNOLOGY = "technology", _("须技术准入的项目")
    LIMIT = "limit", _("单次操作限值")
    FOLLOW_UP = "follow_up", _("随访模板")
    REQUIREMENT = "requirement", _("周期与数量要求")
