"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "compliance.monthlyreport.generated": _("月度合规报告生成"),
    "compliance.rectification.raised": _("整改事项下达"),
    "compliance.rectification.closed": _("整改事项关闭"),
}
