"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "complaints.complaint.received": _("投诉受理"),
    "complaints.complaint.acknowledged": _("投诉已回应"),
    "complaints.complaint.investigating": _("投诉开始调查"),
    "complaints.complaint.noted": _("投诉调查记录"),
    "complaints.complaint.handed_over": _("投诉移交"),
    "complaints.complaint.resolved": _("投诉处理结果"),
    "complaints.complaint.closed": _("投诉结案"),
    "complaints.complaint.escalated": _("投诉提交协会"),
    "complaints.complaint.withdrawn": _("投诉撤回"),
    "complaints.complaint.breached": _("投诉处理超时(定时任务)"),
}
