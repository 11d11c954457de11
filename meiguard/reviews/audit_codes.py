"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

CODES: dict[str, str] = {
    "reviews.campaign.created": "定期审查发起",
    "reviews.campaign.rebuilt": "审查清单生成",
    "reviews.campaign.closed": "定期审查结束",
    "reviews.checklistitem.checked": "检查项合格",
    "reviews.checklistitem.flagged": "检查项发现问题",
    "reviews.finding.raised": "审查问题登记",
    "reviews.finding.action_recorded": "审查问题处理措施",
    "reviews.finding.closed": "审查问题关闭",
}
