"""Lifecycle vocabulary: what can expire, reminder thresholds, job run states."""

from collections.abc import Iterable

from django.db import models
from django.utils.translation import gettext_lazy as _

# The lists' buckets (days before an expiry date). Reminders go out at each institution's own days
# (its policy's "expiry_reminder_days", by default these), each once.
THRESHOLDS: tuple[int, ...] = (7, 30, 60, 90)
# Ledger threshold for the "has expired" notice (lots still in stock past their expiry date).
EXPIRED_NOTICE = 0


class ItemKind(models.TextChoices):
    INSTITUTION_LICENCE = "institution_licence", _("机构执业许可证")
    QUALIFICATION = "qualification", _("人员资质")
    PRACTITIONER_SITE = "practitioner_site", _("多点执业")
    SUPPLIER_LICENCE = "supplier_licence", _("供应商营业执照")
    DISTRIBUTION_AUTHORIZATION = "distribution_authorization", _("经销授权")
    PRODUCT_REGISTRATION = "product_registration", _("产品注册证")
    AUTHORIZATION = "authorization", _("授权")
    LOT = "lot", _("批次效期")


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("已排队")
    RUNNING = "running", _("运行中")
    SUCCEEDED = "succeeded", _("已完成")
    FAILED = "failed", _("失败")


class Job(models.TextChoices):
    """The daily jobs, in the order the scheduler enqueues them."""

    EXPIRE_AUTHORIZATIONS = "expire_authorizations", _("授权到期失效")
    FLAG_EXPIRED_LOTS = "flag_expired_lots", _("过期批次提醒")
    SCAN_EXPIRIES = "scan_expiries", _("到期提醒扫描")
    ANNOUNCE_RULE_VERSIONS = "announce_rule_versions", _("规则包新版本生效通知")
    REMIND_WAITING_APPROVALS = "remind_waiting_approvals", _("审批等待提醒")
    AUDIT_CHECKPOINT = "audit_checkpoint", _("审计链检查点")
    REMIND_DUE_CHECKLISTS = "remind_due_checklists", _("手术安全核查未完成提醒")
    REMIND_DEVICE_UPKEEP = "remind_device_upkeep", _("设备巡检校准到期提醒")
    AFTERCARE_CLOCKS = "aftercare_clocks", _("随访与不良反应计时")
    RECONCILE_HIGH_RISK = "reconcile_high_risk", _("高风险药品每日对账")
    MONTHLY_COMPLIANCE_REPORT = "monthly_compliance_report", _("月度合规报告(每月1日生成上月报告)")


def bucket_for(days_left: int, thresholds: Iterable[int] = THRESHOLDS) -> int | None:
    """The smallest threshold at or above ``days_left`` (by default 7/30/60/90), or None beyond the last."""
    for threshold in sorted(thresholds):
        if days_left <= threshold:
            return threshold
    return None
