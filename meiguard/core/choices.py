from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganizationKind(models.TextChoices):
    INSTITUTION = "institution", _("医疗机构")
    SUPPLIER = "supplier", _("供应商/生产企业")
    OVERSIGHT = "oversight", _("行业协会/卫生健康监督")
    PLATFORM = "platform", _("平台运营")


class Role(models.TextChoices):
    PLATFORM_ADMIN = "platform_admin", _("平台管理员")
    INSTITUTION_ADMIN = "institution_admin", _("机构管理员")
    COMPLIANCE_OFFICER = "compliance_officer", _("授权专员")
    MEDICAL_DIRECTOR = "medical_director", _("医务科")
    PROCUREMENT = "procurement", _("采购")
    DOCTOR = "doctor", _("医生")
    NURSE = "nurse", _("护士")
    AUDITOR = "auditor", _("审计员(监督机构)")
    SUPPLIER_ADMIN = "supplier_admin", _("供应商管理员")


# Which roles may write which kind of data. Read access is membership (or oversight for auditors).
REGISTRY_WRITERS = frozenset({Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER, Role.MEDICAL_DIRECTOR})
INSTITUTION_WRITERS = frozenset({Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER})
STOCK_WRITERS = frozenset({Role.INSTITUTION_ADMIN, Role.PROCUREMENT, Role.COMPLIANCE_OFFICER})
SUPPLIER_WRITERS = frozenset({Role.SUPPLIER_ADMIN})
