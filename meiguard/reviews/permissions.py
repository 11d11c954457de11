"""What the review pages may offer (the one permission helper, ``meiguard.core.permissions``)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor
from meiguard.core.choices import INSTITUTION_WRITERS, Role
from meiguard.core.permissions import permission

from . import queries

READERS = INSTITUTION_WRITERS | {Role.MEDICAL_DIRECTOR}


@permission("reviews.view")
def view(actor: Actor, obj: Any) -> bool:
    """The navigation entry: those who run or answer reviews (managers, 医务科) and overseeing auditors."""
    return actor.is_unrestricted or bool(actor.overseen_org_ids) or bool(actor.org_ids_with_roles(READERS))


@permission("reviews.create", refusal=_("您没有可以开展审查的机构"))
def create(actor: Actor, obj: Any) -> bool:
    return bool(queries.runnable(actor))


@permission("reviews.change")
def change(actor: Actor, obj: Any) -> bool:
    return obj is not None and queries.can_write(actor, obj)
