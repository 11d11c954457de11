"""The reminder ledger (each reminder sent once) and the record of scheduled job runs."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet

from .choices import ItemKind, Job, JobStatus


class Reminder(models.Model):
    """One reminder sent for one item, expiry date and threshold (the unique constraint decides "once").

    A renewal changes the expiry date, so the reminders for the new date are new rows.
    """

    item_kind = models.CharField(_("类型"), max_length=32, choices=ItemKind.choices)
    object_id = models.PositiveBigIntegerField(_("对象 id"))
    expires_on = models.DateField(_("到期日"))
    threshold = models.PositiveSmallIntegerField(_("提醒档(天)"))  # 90/60/30/7; 0 = expired notice
    # The organisation that owns the item (the institution's, or the supplier's): who may read this row.
    organization = models.ForeignKey(
        "core.Organization", null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("组织")
    )
    label = models.CharField(_("事项"), max_length=200)
    recipient_ids = models.JSONField(_("接收人"), default=list)
    sent_on = models.DateField(_("发送日期"))
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(read_paths=("organization",), write_path="organization", write_roles=frozenset())

    class Meta:
        verbose_name = _("到期提醒记录")
        verbose_name_plural = _("到期提醒记录")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["item_kind", "object_id", "expires_on", "threshold"], name="lifecycle_reminder_once"
            )
        ]
        indexes = [models.Index(fields=["expires_on"], name="lifecycle_reminder_expires")]

    def __str__(self) -> str:
        return f"{self.get_item_kind_display()} #{self.object_id} {self.expires_on} T-{self.threshold}"

    def audit_organization_id(self) -> int | None:
        return self.organization_id


class JobRun(models.Model):
    """One attempt at one daily job for one date. A date whose run succeeded is not run again unless forced."""

    job = models.CharField(_("任务"), max_length=64, choices=Job.choices)
    run_date = models.DateField(_("业务日期"))
    attempt = models.PositiveSmallIntegerField(_("第几次"), default=1)
    forced = models.BooleanField(_("强制重跑"), default=False)
    status = models.CharField(_("状态"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    enqueued_at = models.DateTimeField(_("排队时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    counts = models.JSONField(_("计数"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        verbose_name = _("定时任务运行")
        verbose_name_plural = _("定时任务运行")
        ordering = ["-run_date", "-pk"]
        constraints = [
            # Two schedulers racing for the same date: one INSERT wins, the other skips.
            models.UniqueConstraint(fields=["job", "run_date", "attempt"], name="lifecycle_jobrun_attempt")
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.run_date} #{self.attempt}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return round((self.finished_at - self.started_at).total_seconds(), 2)
        return None
