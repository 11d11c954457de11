"""Who may see and press what on the compliance-report pages (the one permission helper, ADR 0014).

Readers: an institution's admins, 授权专员 and 医务科, auditors of an overseeing body (the association roll-up),
platform admins. Writers (generate on demand, close a rectification item): the institution's admins, 授权专员 and
医务科 (``REPORT_WRITERS``) and platform admins; an auditor reads.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.permissions import permission

from .choices import REPORT_WRITERS


def can_write(actor: Actor, institution: Any) -> bool:
    return actor.is_unrestricted or actor.can_write_org(
        getattr(institution, "organization_id", None), REPORT_WRITERS
    )


@permission("compliance.view", refusal=_("月度合规报告仅对机构管理员、授权专员、医务科和监督机构开放"))
def view(actor: Actor, obj: Any) -> bool:
    return (
        actor.is_unrestricted
        or bool(actor.overseen_org_ids)
        or bool(actor.org_ids_with_roles(REPORT_WRITERS))
    )


@permission("compliance.rollup", refusal=_("协会汇总仅对监督机构开放"))
def rollup(actor: Actor, obj: Any) -> bool:
    return actor.is_unrestricted or bool(actor.overseen_org_ids)


@permission(
    "compliance.write", refusal=_("只有本机构的机构管理员、授权专员或医务科可以生成报告和关闭整改事项")
)
def write(actor: Actor, obj: Any) -> bool:
    return obj is not None and can_write(actor, obj)
