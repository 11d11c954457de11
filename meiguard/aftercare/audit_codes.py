"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "aftercare.plan.created": _("随访计划生成"),
    "aftercare.followup.recorded": _("随访记录"),
    "aftercare.followup.missed": _("随访未联系上"),
    "aftercare.followup.lost": _("随访失访"),
    "aftercare.followup.clock": _("随访逾期处理(定时任务)"),
    "aftercare.adversereaction.reported": _("不良反应报告"),
    "aftercare.adversereaction.updated": _("不良反应处置状态更新"),
    "aftercare.adversereaction.escalated": _("不良反应处置超时升级"),
    "aftercare.reactionstep.recorded": _("不良反应处置步骤记录"),
    "aftercare.incident.reported": _("不良事件登记"),
    "aftercare.incident.graded": _("不良事件定级"),
    "aftercare.incident.submitted": _("不良事件向监管部门上报"),
    "aftercare.incident.closed": _("不良事件结案"),
    "aftercare.incident.cluster": _("群体不良事件判定"),
    "aftercare.incident.cluster_grown": _("群体不良事件新增成员"),
    "aftercare.incident.report_overdue": _("不良事件上报逾期升级(定时任务)"),
    "aftercare.evidenceseal.sealed": _("实物封存"),
    "aftercare.evidenceseal.unsealed": _("实物启封"),
}
