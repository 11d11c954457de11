"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "inventory.location.created": _("库位新增"),
    "inventory.location.updated": _("库位修改"),
    "inventory.receipt.created": _("验收入库单登记"),
    "inventory.line.added": _("验收明细登记"),
    "inventory.line.accepted": _("验收合格入库"),
    "inventory.line.rejected": _("验收拒收"),
    "inventory.movement.recorded": _("库存变动"),
    "inventory.count.recorded": _("库存盘点"),
    "inventory.tracecode.used": _("追溯码扫码使用"),
    "inventory.alert.raised": _("假冒/串货预警"),
    "inventory.alert.resolved": _("预警处理完成"),
    "inventory.issue.requested": _("高风险药品出库申请"),
    "inventory.issue.confirmed": _("高风险药品双人确认出库"),
    "inventory.issue.cancelled": _("高风险药品出库申请取消"),
    "inventory.reconciliation.run": _("高风险药品对账执行"),
    "inventory.reconciliation.discrepancy": _("高风险药品对账不符"),
}
CODES.update(
    {
        "inventory.recall.created": _("召回通知登记"),
        "inventory.recall.lot_recalled": _("批次召回并隔离库存"),
        "inventory.recall.returned": _("召回批次退回供应商"),
        "inventory.recall.destroyed": _("召回批次销毁"),
        "inventory.recall.completed": _("召回处理完成"),
    }
)
