"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "reviews.campaign.created": _("定期审查发起"),
    "reviews.campaign.rebuilt": _("审查清单生成"),
    "reviews.campaign.closed": _("定期审查结束"),
    "reviews.checklistitem.checked": _("检查项合格"),
    "reviews.checklistitem.flagged": _("检查项发现问题"),
    "reviews.finding.raised": _("审查问题登记"),
    "reviews.finding.action_recorded": _("审查问题处理措施"),
    "reviews.finding.closed": _("审查问题关闭"),
}
