"""Every audit action code, ``<app>.<model>.<verb>`` (pretix style). ``record`` refuses others."""

import importlib
from typing import Any

from django.utils.translation import gettext_lazy as _

ACTION_CODES: dict[str, Any] = {
    # core
    "core.organization.created": _("组织创建"),
    "core.organization.updated": _("组织修改"),
    "core.user.created": _("用户创建"),
    "core.membership.created": _("成员角色授予"),
    "core.membership.revoked": _("成员角色撤销"),
    "core.apitoken.created": _("接口令牌创建"),
    "core.apitoken.revoked": _("接口令牌吊销"),
    "core.apitoken.rotated": _("接口令牌轮换"),
    "core.user.mfa_enrolled": _("两步验证启用"),
    "core.user.mfa_removed": _("两步验证移除"),
    "core.user.recovery_codes_generated": _("恢复码生成"),
    "core.user.language_set": _("界面语言设置"),
    "core.session.locked": _("页面空闲锁定"),
    "core.session.unlocked": _("页面解锁"),
    "core.session.unlock_failed": _("页面解锁失败"),
    # registry
    "registry.institution.created": _("机构登记"),
    "registry.institution.updated": _("机构信息修改"),
    "registry.institution.status_changed": _("机构状态变更"),
    "registry.practitioner.created": _("人员登记"),
    "registry.practitioner.updated": _("人员信息修改"),
    "registry.practitioner.status_changed": _("人员状态变更"),
    "registry.practitionersite.created": _("多点执业登记"),
    "registry.practitionersite.updated": _("多点执业修改"),
    "registry.practitionersite.deleted": _("多点执业删除"),
    "registry.practitionersiterequest.created": _("多点执业申请提交"),
    "registry.practitionersiterequest.accepted": _("多点执业申请同意"),
    "registry.practitionersiterequest.refused": _("多点执业申请拒绝"),
    "registry.practitionersiterequest.withdrawn": _("多点执业申请撤回"),
    "registry.qualification.created": _("资质登记"),
    "registry.qualification.updated": _("资质修改"),
    "registry.qualification.verified": _("资质核验"),
    "registry.qualification.deleted": _("资质删除"),
    "registry.supplier.created": _("供应商登记"),
    "registry.supplier.updated": _("供应商修改"),
    "registry.distributionauthorization.created": _("经销授权登记"),
    "registry.distributionauthorization.updated": _("经销授权修改"),
    "registry.product.created": _("产品登记"),
    "registry.product.updated": _("产品修改"),
    "registry.lot.created": _("批次登记"),
    "registry.lot.updated": _("批次修改"),
    "registry.lot.status_changed": _("批次状态变更"),
    "registry.device.created": _("设备登记"),
    "registry.device.updated": _("设备修改"),
    "registry.device.status_changed": _("设备状态变更"),
    # authz
    "authz.authorization.created": _("授权创建"),
    "authz.authorization.activated": _("授权生效"),
    "authz.authorization.suspended": _("授权暂停"),
    "authz.authorization.reinstated": _("授权恢复"),
    "authz.authorization.revoked": _("授权撤销"),
    "authz.authorization.expired": _("授权到期"),
    "authz.authorization.renewed": _("授权续期"),
    # rules
    "rules.rulepackversion.loaded": _("规则包版本载入"),
    "rules.rulepackversion.published": _("规则包版本发布"),
    "rules.institutionpolicy.saved": _("本机构规范草稿保存"),
}

# Apps added later keep their codes beside their code (``<app>/audit_codes.py``).
for _app in (
    "notify",
    "workflow",
    "lifecycle",
    "reviews",
    "bulk",
    "workspace",
    "clinical",
    "equipment",
    "aftercare",
    "inventory",
    "complaints",
    "compliance",
    "public",
):
    ACTION_CODES.update(importlib.import_module(f"meiguard.{_app}.audit_codes").CODES)
