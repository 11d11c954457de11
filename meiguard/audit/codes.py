"""Every audit action code, ``<app>.<model>.<verb>`` (pretix style). ``record`` refuses others."""

import importlib

ACTION_CODES: dict[str, str] = {
    # core
    "core.organization.created": "组织创建",
    "core.organization.updated": "组织修改",
    "core.user.created": "用户创建",
    "core.membership.created": "成员角色授予",
    "core.membership.revoked": "成员角色撤销",
    "core.apitoken.created": "接口令牌创建",
    "core.apitoken.revoked": "接口令牌吊销",
    "core.apitoken.rotated": "接口令牌轮换",
    "core.user.mfa_enrolled": "两步验证启用",
    "core.user.mfa_removed": "两步验证移除",
    "core.user.recovery_codes_generated": "恢复码生成",
    # registry
    "registry.institution.created": "机构登记",
    "registry.institution.updated": "机构信息修改",
    "registry.institution.status_changed": "机构状态变更",
    "registry.practitioner.created": "人员登记",
    "registry.practitioner.updated": "人员信息修改",
    "registry.practitioner.status_changed": "人员状态变更",
    "registry.practitionersite.created": "多点执业登记",
    "registry.practitionersite.updated": "多点执业修改",
    "registry.practitionersite.deleted": "多点执业删除",
    "registry.practitionersiterequest.created": "多点执业申请提交",
    "registry.practitionersiterequest.accepted": "多点执业申请同意",
    "registry.practitionersiterequest.refused": "多点执业申请拒绝",
    "registry.practitionersiterequest.withdrawn": "多点执业申请撤回",
    "registry.qualification.created": "资质登记",
    "registry.qualification.updated": "资质修改",
    "registry.qualification.verified": "资质核验",
    "registry.qualification.deleted": "资质删除",
    "registry.supplier.created": "供应商登记",
    "registry.supplier.updated": "供应商修改",
    "registry.distributionauthorization.created": "经销授权登记",
    "registry.distributionauthorization.updated": "经销授权修改",
    "registry.product.created": "产品登记",
    "registry.product.updated": "产品修改",
    "registry.lot.created": "批次登记",
    "registry.lot.updated": "批次修改",
    "registry.lot.status_changed": "批次状态变更",
    "registry.device.created": "设备登记",
    "registry.device.updated": "设备修改",
    "registry.device.status_changed": "设备状态变更",
    # authz
    "authz.authorization.created": "授权创建",
    "authz.authorization.activated": "授权生效",
    "authz.authorization.suspended": "授权暂停",
    "authz.authorization.reinstated": "授权恢复",
    "authz.authorization.revoked": "授权撤销",
    "authz.authorization.expired": "授权到期",
    "authz.authorization.renewed": "授权续期",
    # rules
    "rules.rulepackversion.loaded": "规则包版本载入",
    "rules.rulepackversion.published": "规则包版本发布",
    "rules.institutionpolicy.saved": "本机构规范草稿保存",
}

# Apps added later keep their codes beside their code (``<app>/audit_codes.py``).
for _app in ("notify", "workflow", "lifecycle", "reviews", "bulk", "workspace", "clinical"):
    ACTION_CODES.update(importlib.import_module(f"meiguard.{_app}.audit_codes").CODES)
