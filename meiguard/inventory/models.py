"""Inventory: storage locations, receipts with line-by-line acceptance, the stock ledger, trace codes, alerts.

Stock is never typed: the quantity on hand of a lot at a location is the sum of its ``StockMovement`` rows, and
``registry.Lot.quantity`` is a cached total written only by the ledger in the same transaction (ADR 0016).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.registry.choices import DoseUnit, RecallLevel

from .choices import (
    STOCK_ROLES,
    AlertKind,
    IdentifiedBy,
    IssueStatus,
    LineStatus,
    LocationKind,
    MovementKind,
    RecallSource,
    TraceCodeStatus,
)

_INST = "institution__organization"


def _policy(path: str = _INST) -> TenantPolicy:
    return TenantPolicy(read_paths=(path,), write_path=path, write_roles=STOCK_ROLES)


class StorageLocation(models.Model):
    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属机构")
    )
    name = models.CharField(_("库位名称"), max_length=64)
    kind = models.CharField(_("库位类型"), max_length=16, choices=LocationKind.choices)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("库位")
        verbose_name_plural = _("库位")
        ordering = ["institution_id", "name"]
        constraints = [models.UniqueConstraint(fields=["institution", "name"], name="uniq_inv_location_name")]

    def __str__(self) -> str:
        return self.name

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class Receipt(models.Model):
    """A delivery from a supplier (采购验收入库): the delivery note and who received it."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属机构")
    )
    supplier = models.ForeignKey(
        "registry.Supplier", on_delete=models.PROTECT, related_name="+", verbose_name=_("供应商")
    )
    delivery_note_no = models.CharField(_("随货同行单号"), max_length=64)
    received_at = models.DateTimeField(_("到货时间"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("收货人")
    )
    note = models.TextField(_("备注"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("验收入库单")
        verbose_name_plural = _("验收入库单")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "supplier", "delivery_note_no"], name="uniq_inv_receipt_note"
            )
        ]
        indexes = [models.Index(fields=["institution", "received_at"], name="inv_receipt_inst_at")]

    def __str__(self) -> str:
        return self.delivery_note_no

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class ReceiptLine(models.Model):
    """One product lot of a receipt, how it was identified, its arrival checks and the acceptance decision.

    Kept as DD-08 requires: until ``keep_until`` (2 years after expiry), permanently when it is null (implants
    and injectable fillers). Rejected lines are kept with the reason."""

    receipt = models.ForeignKey(
        Receipt, on_delete=models.PROTECT, related_name="lines", verbose_name=_("入库单")
    )
    product = models.ForeignKey(
        "registry.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("产品")
    )
    lot_no = models.CharField(_("批号"), max_length=40)
    production_date = models.DateField(_("生产日期"), null=True, blank=True)
    expiry_date = models.DateField(_("失效日期"))
    quantity = models.DecimalField(_("数量"), max_digits=12, decimal_places=3)
    unit = models.CharField(_("单位"), max_length=8, choices=DoseUnit.choices)
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, related_name="+", verbose_name=_("库位")
    )
    identified_by = models.CharField(_("识别方式"), max_length=16, choices=IdentifiedBy.choices)
    scanned_code = models.CharField(_("扫码内容"), max_length=128, blank=True)
    trace_codes = models.JSONField(_("药品追溯码"), default=list, blank=True)
    manual_reason = models.CharField(_("手工录入原因"), max_length=500, blank=True)
    temperature_c = models.DecimalField(
        _("到货温度(℃)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    packaging_intact = models.BooleanField(_("包装完好"))
    # [{"check": <Check>, "passed": bool}] computed when the line is recorded (the state on arrival).
    checks = models.JSONField(_("到货检查"), default=list)
    status = models.CharField(
        _("验收结论"), max_length=16, choices=LineStatus.choices, default=LineStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("验收人"),
    )
    decided_at = models.DateTimeField(_("验收时间"), null=True, blank=True)
    reject_reason = models.CharField(_("拒收原因"), max_length=500, blank=True)
    lot = models.ForeignKey(
        "registry.Lot",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("批次"),
    )
    keep_until = models.DateField(_("记录保存至(空为永久)"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy("receipt__institution__organization")

    class Meta:
        verbose_name = _("验收明细")
        verbose_name_plural = _("验收明细")
        ordering = ["receipt_id", "pk"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="inv_line_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.lot_no} × {self.quantity.normalize()}"

    def audit_organization_id(self) -> int | None:
        return self.receipt.institution.organization_id

    @property
    def failed_checks(self) -> list[str]:
        return [c["check"] for c in self.checks if not c["passed"]]


class StockCount(models.Model):
    """A stock count (盘点) of one location: each difference became an adjustment movement with the reason."""

    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属机构")
    )
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, related_name="+", verbose_name=_("库位")
    )
    counted_at = models.DateTimeField(_("盘点时间"))
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("盘点人")
    )
    reason = models.CharField(_("差异原因"), max_length=500, blank=True)
    # [{"lot": id, "expected": "…", "counted": "…"}]
    lines = models.JSONField(_("盘点明细"), default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("盘点")
        verbose_name_plural = _("盘点")
        ordering = ["-counted_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.location_id} {self.counted_at:%Y-%m-%d}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class StockMovement(models.Model):
    """One signed change of a lot's stock at a location. Append-only: a mistake is corrected by another row."""

    institution = models.ForeignKey(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("所属机构"),
    )
    lot = models.ForeignKey(
        "registry.Lot", on_delete=models.PROTECT, related_name="+", verbose_name=_("批次")
    )
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("库位")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=MovementKind.choices)
    quantity = models.DecimalField(_("数量(入正出负)"), max_digits=12, decimal_places=3)
    reason = models.CharField(_("原因"), max_length=500, blank=True)
    at = models.DateTimeField(_("时间"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("经办人"),
    )
    receipt_line = models.ForeignKey(
        ReceiptLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    usage = models.ForeignKey(
        "clinical.Usage", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    counterpart = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("对应调拨")
    )
    count = models.ForeignKey(
        StockCount, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("库存变动")
        verbose_name_plural = _("库存变动")
        ordering = ["at", "pk"]
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="inv_movement_nonzero")]
        indexes = [
            models.Index(fields=["lot", "location"], name="inv_move_lot_loc"),
            models.Index(fields=["institution", "at"], name="inv_move_inst_at"),
            models.Index(fields=["location", "lot"], name="inv_move_loc_lot"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity.normalize()}"

    @property
    def display_name(self) -> str:
        """As the audit trail names it: the kind's label and the signed quantity."""
        return f"{self.get_kind_display()} {self.quantity.normalize()}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class TraceCode(models.Model):
    """A drug unit's 20-digit trace code (DD-06): received once, used (or scrapped) once.

    The code names one unit nationally (drug code + unit serial + check digit), so it is unique across
    institutions: the same code received at a second place is refused, and a use anywhere it was not received
    is denied with an alert."""

    code = models.CharField(_("药品追溯码"), max_length=20, unique=True)
    institution = models.ForeignKey(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("所属机构"),
    )
    lot = models.ForeignKey(
        "registry.Lot", on_delete=models.PROTECT, related_name="+", verbose_name=_("批次")
    )
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("库位")
    )
    receipt_line = models.ForeignKey(
        ReceiptLine, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("验收明细")
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=TraceCodeStatus.choices, default=TraceCodeStatus.RECEIVED
    )
    usage = models.OneToOneField(
        "clinical.Usage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("使用记录"),
    )
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("药品追溯码")
        verbose_name_plural = _("药品追溯码")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.code

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class InventoryAlert(models.Model):
    """A counterfeit/diversion alert (DD-06): a trace code scanned again, or used where it was never received.
    One row per (institution, code); further scans only bump ``times`` and ``last_seen_at``."""

    institution = models.ForeignKey(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("所属机构"),
    )
    kind = models.CharField(_("类型"), max_length=16, choices=AlertKind.choices)
    code = models.CharField(_("追溯码"), max_length=20)
    times = models.PositiveIntegerField(_("扫码次数"), default=1)
    first_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("扫码人"),
    )
    case_id_seen = models.PositiveBigIntegerField(_("病例"), null=True, blank=True)
    created_at = models.DateTimeField(_("首次发现"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("最近一次"), auto_now=True)
    # Closing an alert: who looked into it, when, and what was found (e.g. "供应商串货,已报告药监").
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("处理人"),
    )
    resolution = models.CharField(_("处理结果"), max_length=500, blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("假冒/串货预警")
        verbose_name_plural = _("假冒/串货预警")
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["institution", "code"], name="uniq_inv_alert_code")]

    def __str__(self) -> str:
        return f"{self.kind} {self.code}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


# ---- high-risk drugs: two-person issue and daily reconciliation (issue 13 part 4) -----------------------


class IssueRequest(models.Model):
    """Issuing high-risk stock (双人双锁): one keeper asks, a second, different keeper confirms; the issue
    movement is written only on confirmation. Kept with the register (5 years after the lot's expiry)."""

    institution = models.ForeignKey(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("所属机构"),
    )
    lot = models.ForeignKey(
        "registry.Lot", on_delete=models.PROTECT, related_name="+", verbose_name=_("批次")
    )
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("库位")
    )
    quantity = models.DecimalField(_("数量"), max_digits=12, decimal_places=3)
    case = models.ForeignKey(
        "clinical.Case",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("病例"),
    )
    purpose = models.CharField(_("用途"), max_length=200)
    status = models.CharField(
        _("状态"), max_length=16, choices=IssueStatus.choices, default=IssueStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("发药人")
    )
    requested_at = models.DateTimeField(_("申请时间"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("复核人"),
    )
    confirmed_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("取消人"),
    )
    cancel_reason = models.CharField(_("取消原因"), max_length=500, blank=True)
    movement = models.OneToOneField(
        StockMovement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("出库变动"),
    )
    # Units of this issue used in cases by scanning their trace code (a scanned high-risk unit must have been
    # issued through a confirmed two-person issue; each scan takes one unit of it, never more than ``quantity``).
    scanned = models.PositiveIntegerField(_("已扫码使用数"), default=0)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("高风险药品双人出库")
        verbose_name_plural = _("高风险药品双人出库")
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inv_issue_quantity_positive"),
            models.CheckConstraint(
                condition=Q(confirmed_by__isnull=True) | ~Q(confirmed_by=models.F("requested_by")),
                name="inv_issue_two_people",
            ),
        ]
        indexes = [models.Index(fields=["institution", "status"], name="inv_issue_inst_status")]

    def __str__(self) -> str:
        return f"{self.lot_id} × {self.quantity.normalize()}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class Reconciliation(models.Model):
    """The daily reconciliation of one high-risk product at one institution (每日对账): usage recorded in cases
    against issue movements, in the stock unit, with the closing balance. One row per (institution, product,
    day); a run again the same day recomputes it, the alert is raised once."""

    institution = models.ForeignKey(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("所属机构"),
    )
    product = models.ForeignKey(
        "registry.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("产品")
    )
    day = models.DateField(_("对账日期"))
    used = models.DecimalField(_("病例使用量"), max_digits=14, decimal_places=3)
    issued = models.DecimalField(_("出库量"), max_digits=14, decimal_places=3)
    on_hand = models.DecimalField(_("日终结存"), max_digits=14, decimal_places=3)
    matched = models.BooleanField(_("账物相符"))
    alert = models.ForeignKey(
        InventoryAlert,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("预警"),
    )
    ran_at = models.DateTimeField(_("对账时间"))

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("高风险药品每日对账")
        verbose_name_plural = _("高风险药品每日对账")
        ordering = ["-day", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "product", "day"], name="uniq_inv_recon_day")
        ]
        indexes = [models.Index(fields=["institution", "day"], name="inv_recon_inst_day")]

    def __str__(self) -> str:
        return f"{self.product_id} {self.day}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


class RecallNotice(models.Model):
    """A recall (DD-09): the maker's or the regulator's notice, or the institution's own finding, naming a
    product and some (or all) of its lots. ``institution`` empty: a notice for every institution holding the lots
    (entered by a platform administrator); set: that institution's own. Each affected lot is a ``RecallLot``.

    The clock (1 / 3 / 7 days for levels 1 / 2 / 3) runs from the recall decision named on the notice
    (``issued_on``; the day it was received when the notice does not say): the registrant must have told the
    users by then, and the institution passes it on to its own clients on the same clock."""

    institution = models.ForeignKey(
        "registry.Institution",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("所属机构"),
    )
    product = models.ForeignKey(
        "registry.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("产品")
    )
    lot_nos = models.JSONField(_("召回批号"), default=list, blank=True)
    all_lots = models.BooleanField(_("该产品全部批次"), default=False)
    level = models.PositiveSmallIntegerField(_("召回级别"), choices=RecallLevel.choices)
    source = models.CharField(_("召回来源"), max_length=16, choices=RecallSource.choices)
    reference_no = models.CharField(_("召回通知编号"), max_length=64, blank=True)
    reason = models.CharField(_("召回原因"), max_length=500)
    issued_on = models.DateField(_("召回决定日期"), null=True, blank=True)
    received_at = models.DateTimeField(_("收到通知时间"))
    due_on = models.DateField(_("完成期限"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("登记人"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=(_INST, "recall_lots__institution__organization"),
        write_path=_INST,
        write_roles=STOCK_ROLES,
    )

    class Meta:
        verbose_name = _("召回通知")
        verbose_name_plural = _("召回通知")
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.reference_no or self.pk} {self.get_level_display()}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id if self.institution is not None else None


class RecallLot(models.Model):
    """One institution's lot under a recall: what was quarantined, returned or destroyed, and when the
    institution completed the recall (clients told, stock settled)."""

    notice = models.ForeignKey(
        RecallNotice, on_delete=models.PROTECT, related_name="recall_lots", verbose_name=_("召回通知")
    )
    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属机构")
    )
    lot = models.ForeignKey(
        "registry.Lot", on_delete=models.PROTECT, related_name="+", verbose_name=_("批次")
    )
    quarantine = models.ForeignKey(
        StorageLocation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("隔离库位"),
    )
    quarantined = models.DecimalField(_("隔离数量"), max_digits=12, decimal_places=3, default=0)
    returned = models.DecimalField(_("退回供应商数量"), max_digits=12, decimal_places=3, default=0)
    destroyed = models.DecimalField(_("销毁数量"), max_digits=12, decimal_places=3, default=0)
    completed_at = models.DateTimeField(_("处理完成时间"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("完成人"),
    )
    completion_note = models.CharField(_("完成说明"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = _policy()

    class Meta:
        verbose_name = _("召回批次")
        verbose_name_plural = _("召回批次")
        ordering = ["notice_id", "institution_id", "pk"]
        constraints = [models.UniqueConstraint(fields=["notice", "lot"], name="uniq_inv_recall_lot")]
        indexes = [models.Index(fields=["institution", "completed_at"], name="inv_recall_inst_done")]

    def __str__(self) -> str:
        return f"{self.notice_id}/{self.lot_id}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    @property
    def in_quarantine(self) -> Any:
        return self.quarantined - self.returned - self.destroyed
