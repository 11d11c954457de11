"""The device file (设备档案): one append-only upkeep record per acceptance, installation, inspection,
calibration, repair or scrapping of a registry ``Device``. The device's status and last inspection/calibration
dates follow from these records (``actions.record_upkeep``); nobody types them here."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.core.choices import STOCK_WRITERS
from meiguard.registry.choices import DeviceStatus

from .choices import Performer, UpkeepKind, UpkeepResult


class UpkeepRecord(models.Model):
    device = models.ForeignKey(
        "registry.Device", on_delete=models.PROTECT, related_name="upkeep_records", verbose_name=_("设备")
    )
    kind = models.CharField(_("类别"), max_length=16, choices=UpkeepKind.choices)
    performed_on = models.DateField(_("日期"))
    result = models.CharField(_("结果"), max_length=8, choices=UpkeepResult.choices, blank=True)
    performer = models.CharField(_("执行人类别"), max_length=16, choices=Performer.choices)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("执行人"),
    )
    engineer_name = models.CharField(_("工程师姓名"), max_length=64, blank=True)
    engineer_company = models.CharField(_("工程师所属公司"), max_length=128, blank=True)
    engineer_certificate_no = models.CharField(_("工程师证书编号"), max_length=64, blank=True)
    findings = models.TextField(_("发现的问题/处理情况"), max_length=4000, blank=True)
    # The device's status right after this record (history reads "took it out of service" without replaying).
    status_after = models.CharField(
        _("记录后设备状态"), max_length=16, choices=DeviceStatus.choices, editable=False
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("录入人"),
    )
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("device__institution__organization",),
        write_path="device__institution__organization",
        write_roles=STOCK_WRITERS,
    )

    class Meta:
        verbose_name = _("设备维护记录")
        verbose_name_plural = _("设备维护记录")
        ordering = ["-performed_on", "-pk"]
        indexes = [models.Index(fields=["device", "kind", "-performed_on"], name="upkeep_device_kind_on")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.performed_on:%Y-%m-%d}"

    def audit_organization_id(self) -> int | None:
        return self.device.institution.organization_id

    @property
    def performer_label(self) -> str:
        if self.performer == Performer.ENGINEER:
            parts = [self.engineer_name, self.engineer_company]
            if self.engineer_certificate_no:
                parts.append(str(_("证书 %(no)s") % {"no": self.engineer_certificate_no}))
            return " · ".join(p for p in parts if p)
        user = self.performed_by
        return str(user) if user else ""
