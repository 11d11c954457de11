"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "clinical.clinicalsettings.saved": _("机构诊疗设置保存"),
    "clinical.procedureprice.saved": _("项目公示价格保存"),
    "clinical.client.created": _("求美者建档"),
    "clinical.client.updated": _("求美者档案修改"),
    "clinical.client.viewed": _("求美者档案查看"),
    "clinical.privacyconsent.granted": _("个人敏感信息处理同意"),
    "clinical.privacyconsent.withdrawn": _("个人敏感信息处理同意撤回"),
    "clinical.clientphoto.uploaded": _("照片上传"),
    "clinical.clientphoto.viewed": _("照片查看"),
    "clinical.case.created": _("病例创建"),
    "clinical.case.cancelled": _("病例取消"),
    "clinical.case.closed": _("病例完成"),
    "clinical.consultation.saved": _("面诊记录保存"),
    "clinical.consultation.signed": _("面诊医师签名"),
    "clinical.consenttemplate.created": _("知情同意书模板新版本"),
    "clinical.consentsignature.signed": _("知情同意签署"),
    "clinical.consentsignature.refused": _("拒绝签署知情同意"),
    "clinical.consentsignature.withdrawn": _("知情同意撤回"),
    "clinical.assessment.saved": _("术前评估填写"),
    "clinical.assessment.signed": _("术前评估签名"),
    "clinical.review.opened": _("分级评估开启"),
    "clinical.review.discussed": _("病例讨论记录"),
    "clinical.review.confirmed": _("分级评估确认"),
    "clinical.review.voted": _("委员会审核意见"),
    "clinical.review.decided": _("分级评估完成"),
    "clinical.checklistnode.signed": _("手术安全核查签名"),
    "clinical.checklistnode.completed": _("手术安全核查节点完成"),
    "clinical.checklistnode.reminded": _("手术安全核查未完成提醒"),
    "clinical.operationrecord.opened": _("治疗/手术记录开启"),
    "clinical.operationrecord.refused": _("治疗/手术记录开启被拒绝"),
    "clinical.operationrecord.closed": _("治疗/手术记录结束"),
    "clinical.usage.added": _("使用记录"),
    "clinical.usage.refused": _("使用被拒绝"),
    "clinical.lot.exported": _("批次追溯导出"),
}
