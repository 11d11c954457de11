"""What the bulk-import pages may offer (the one permission helper, ``meiguard.core.permissions``)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.permissions import permission

from . import queries


@permission("bulk.view")
def view(actor: Actor, obj: Any) -> bool:
    """The navigation entry: people holding a role that imports registry or authorization rows."""
    return actor.is_unrestricted or bool(actor.org_ids_with_roles(queries.IMPORT_ROLES))


@permission("bulk.import", refusal=_("您没有可导入数据的机构"))
def import_rows(actor: Actor, obj: Any) -> bool:
    return queries.can_import(actor)
