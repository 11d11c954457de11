"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "workflow.application.created": _("授权申请创建"),
    "workflow.application.updated": _("授权申请修改"),
    "workflow.application.submitted": _("授权申请提交"),
    "workflow.application.advanced": _("授权申请进入下一审批环节"),
    "workflow.application.approved": _("授权申请批准"),
    "workflow.application.rejected": _("授权申请驳回"),
    "workflow.application.returned": _("授权申请退回补充"),
    "workflow.application.withdrawn": _("授权申请撤回"),
    "workflow.approvalstep.voted": _("审批意见"),
    "workflow.evidence.added": _("申请材料上传"),
    "workflow.evidence.deleted": _("申请材料移除"),
    "workflow.committee.created": _("专家委员会设立"),
    "workflow.committee.updated": _("专家委员会修改"),
}
