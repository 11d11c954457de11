"""The public side owns one table: the dated history of published prices (明码标价).

The current price stays in ``clinical.ProcedurePrice`` (consultations read it); every change made through
``public.actions.publish_price`` adds a ``PriceChange`` row here with the old and new price, who and when, in
the same transaction as the clinical write and its audit entry.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.clinical.choices import CLINICAL_ADMINS
from meiguard.core.access import TenantPolicy, TenantQuerySet


class PriceChange(models.Model):
    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构")
    )
    procedure_code = models.CharField(_("项目编码"), max_length=64)
    old_price = models.DecimalField(_("原价格(元)"), max_digits=12, decimal_places=2, null=True, blank=True)
    new_price = models.DecimalField(_("新价格(元)"), max_digits=12, decimal_places=2)
    changed_at = models.DateTimeField(_("公示时间"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("操作人"),
    )

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institution__organization",),
        write_path="institution__organization",
        write_roles=CLINICAL_ADMINS,
    )

    class Meta:
        verbose_name = _("公示价格变更")
        verbose_name_plural = _("公示价格变更")
        indexes = [
            models.Index(fields=["institution", "procedure_code", "changed_at"], name="pub_price_hist"),
        ]

    def __str__(self) -> str:
        return f"{self.procedure_code} {self.old_price} → {self.new_price}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id
