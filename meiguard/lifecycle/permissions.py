"""What the expiry pages may offer (the one permission helper, ``meiguard.core.permissions``)."""

from __future__ import annotations

from typing import Any

from meiguard.core.access import Actor
from meiguard.core.permissions import permission


@permission("lifecycle.view")
def view(actor: Actor, obj: Any) -> bool:
    """Everyone has something that expires: licences, qualifications, authorizations, lots."""
    return actor.is_authenticated
