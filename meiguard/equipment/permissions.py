"""Who may see and press what in the device file (one helper for the navigation, the buttons and the views).

Device keepers — the roles that may write devices in the registry (机构管理员, 采购, 授权专员) — keep the file
and record upkeep; 医务科 reads it (its people use the devices); an auditor reads the files of the institutions
their body oversees. Doctors, nurses and suppliers are not offered the section (the engine tells a doctor at
the point of care when a device may not be used).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.choices import STOCK_WRITERS, Role
from meiguard.core.permissions import permission

READERS = STOCK_WRITERS | {Role.MEDICAL_DIRECTOR}


@permission("equipment.view", refusal=_("只有设备管理相关人员和监督机构审计员可以查看设备档案"))
def view(actor: Actor, obj: Any) -> bool:
    return actor.is_unrestricted or bool(actor.org_ids_with_roles(READERS) or actor.overseen_org_ids)


@permission("equipment.record", refusal=_("只有机构管理员、采购和授权专员可以录入设备维护记录"))
def record(actor: Actor, obj: Any) -> bool:
    """With a device: may record upkeep on it (its institution's keepers); without: keeps some device file."""
    if obj is None:
        return actor.is_unrestricted or bool(actor.org_ids_with_roles(STOCK_WRITERS))
    return actor.can_write_org(obj.institution.organization_id, STOCK_WRITERS)
