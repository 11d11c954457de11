"""Inventory choices and the few constants its rules read (each with its source)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.choices import STOCK_WRITERS, Role

# Who receives, moves and counts stock: the institution's admin, 采购 and 授权专员 (as registry lots).
STOCK_ROLES = STOCK_WRITERS
# Who is told about a counterfeit/diversion alert (DD-06): the compliance officers, else the admins.
ALERT_ROLES = (Role.COMPLIANCE_OFFICER,)
ALERT_FALLBACK_ROLES = (Role.INSTITUTION_ADMIN,)

# Near-expiry list: the institution policy's days (``near_expiry_days``), else this default.
DEFAULT_NEAR_EXPIRY_DAYS = 90
# Purchase-inspection records are kept until 2 years after expiry; implants permanently (DD-08).
KEEP_YEARS_AFTER_EXPIRY = 2
# A 20-digit drug trace code (药品追溯码, DD-06): the first 7 digits name the drug, the rest the unit.
TRACE_CODE_LENGTH = 20
MAX_CODES_PER_LINE = 1000
# Cold chain: 2–8 °C on arrival (the label's storage condition).
COLD_CHAIN_MIN_C = 2
COLD_CHAIN_MAX_C = 8


class LocationKind(models.TextChoices):
    ORDINARY = "ordinary", _("普通库位")
    COLD_CHAIN = "cold_chain", _("冷链(2–8℃)")
    HIGH_RISK = "high_risk", _("高风险药品专柜(双人双锁)")
    QUARANTINE = "quarantine", _("召回隔离区")


class IdentifiedBy(models.TextChoices):
    UDI = "udi", _("扫描医疗器械 UDI")
    TRACE_CODE = "trace_code", _("扫描药品追溯码")
    MANUAL = "manual", _("手工录入")


class LineStatus(models.TextChoices):
    PENDING = "pending", _("待验收")
    ACCEPTED = "accepted", _("验收合格入库")
    REJECTED = "rejected", _("拒收")


class Check(models.TextChoices):
    """The arrival checks of one receipt line (采购验收)."""

    REGISTRATION = "registration", _("产品注册证在有效期内")
    DISTRIBUTION = "distribution", _("供应商经销授权在有效期内")
    NOT_EXPIRED = "not_expired", _("批次未过期")
    NOT_RECALLED = "not_recalled", _("批次未被召回")
    COLD_CHAIN = "cold_chain", _("冷链到货温度已记录且在 2–8℃")
    PACKAGING = "packaging", _("包装完好")


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", _("验收入库")
    ISSUE = "issue", _("病例使用出库")
    RETURN = "return", _("病例退回入库")
    TRANSFER_OUT = "transfer_out", _("调拨出库")
    TRANSFER_IN = "transfer_in", _("调拨入库")
    SCRAP = "scrap", _("报废")
    ADJUSTMENT = "adjustment", _("盘点调整")
    SUPPLIER_RETURN = "supplier_return", _("退回供应商")


# Kinds an API caller or a page may post directly (receipts and issues come from their own actions).
MANUAL_KINDS = frozenset({MovementKind.RETURN, MovementKind.SCRAP, MovementKind.ADJUSTMENT})


class TraceCodeStatus(models.TextChoices):
    RECEIVED = "received", _("在库")
    USED = "used", _("已使用")
    SCRAPPED = "scrapped", _("已报废")


class AlertKind(models.TextChoices):
    SCANNED_AGAIN = "scanned_again", _("追溯码重复扫码")
    NOT_RECEIVED = "not_received", _("追溯码未在本机构入库")
    RECONCILIATION = "reconciliation", _("高风险药品每日对账不符")


# High-risk drugs kept in the locked cabinet (专柜双人双锁): botulinum toxin type A, managed as a toxic drug
# (DD-01). The registry has no narcotic/psychotropic class (PR-09) yet; such a category would be added here.
HIGH_RISK_DRUG_CATEGORIES = frozenset({"botulinum_toxin_a"})
# The register (专用账册) is kept at least 5 years after the lot's expiry (PR-09, narcotics/psychotropics);
# DD-01 gives no figure for the toxin's register (only prescriptions, 2 years, unconfirmed): the longer applies.
REGISTER_KEEP_YEARS_AFTER_EXPIRY = 5
# Who issues from and confirms at the high-risk cabinet: the stock keepers (each request needs two of them).
ISSUE_ROLES = STOCK_ROLES


class IssueStatus(models.TextChoices):
    REQUESTED = "requested", _("待第二人确认")
    CONFIRMED = "confirmed", _("已双人确认出库")
    CANCELLED = "cancelled", _("已取消")


# ---- recalls (DD-09) ------------------------------------------------------------------------------

# The registrant notifies users within 1 / 3 / 7 days of deciding a level 1 / 2 / 3 recall (医疗器械召回管理办法,
# DD-09). The institution, as the user, passes the notice on to its affected clients on the same clock.
RECALL_DAYS = {1: 1, 2: 3, 3: 7}
RECALL_SOURCES = ("device-recall-rules",)
# Who sees the affected clients' contact details: the compliance officers (授权专员) and 医务科.
RECALL_CONTACT_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.MEDICAL_DIRECTOR})
QUARANTINE_LOCATION_NAME = "召回隔离区"
MAX_RECALL_LOTS = 100


class RecallSource(models.TextChoices):
    MAKER = "maker", _("生产企业/注册人召回通知")
    REGULATOR = "regulator", _("药品监督管理部门通知")
    INTERNAL = "internal", _("本机构发现")


class RecallDisposal(models.TextChoices):
    RETURNED = "returned", _("退回供应商")
    DESTROYED = "destroyed", _("销毁")


class ClockState(models.TextChoices):
    OPEN = "open", _("处理中")
    OVERDUE = "overdue", _("已超时")
    DONE = "done", _("已按时完成")
    DONE_LATE = "done_late", _("超时完成")
