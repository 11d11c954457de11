"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

CODES: dict[str, str] = {
    "workflow.application.created": "授权申请创建",
    "workflow.application.updated": "授权申请修改",
    "workflow.application.submitted": "授权申请提交",
    "workflow.application.advanced": "授权申请进入下一审批环节",
    "workflow.application.approved": "授权申请批准",
    "workflow.application.rejected": "授权申请驳回",
    "workflow.application.returned": "授权申请退回补充",
    "workflow.application.withdrawn": "授权申请撤回",
    "workflow.approvalstep.voted": "审批意见",
    "workflow.evidence.added": "申请材料上传",
    "workflow.evidence.deleted": "申请材料移除",
    "workflow.committee.created": "专家委员会设立",
    "workflow.committee.updated": "专家委员会修改",
}
