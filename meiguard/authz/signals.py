"""Invalidate cached snapshots: every registry or authorization write that can change a decision bumps a
generation on commit. (Publishing a rule-pack version bumps the rules generation in the database instead,
inside its transaction: ``rules.services.bump_generation``.)

Signals catch every save path (actions, admin, seeding). Queryset ``update()`` bypasses them, so code that
bulk-updates these models must call ``snapshot.bump`` itself (the registry's and authz's actions save rows).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from meiguard.registry import models as reg

from . import models as authz
from .snapshot import bump, gen_key


def _keys_for(instance: Any) -> list[str]:
    if isinstance(instance, reg.Institution):
        return [gen_key("i", instance.pk)]
    if isinstance(instance, reg.Practitioner):
        return [gen_key("p", instance.pk)]
    if isinstance(instance, reg.Qualification | reg.PractitionerSite):
        return [gen_key("p", instance.practitioner_id)]
    if isinstance(instance, reg.Lot):
        return [gen_key("lot", instance.pk)]
    if isinstance(instance, reg.Device):
        return [gen_key("dev", instance.pk)]
    if isinstance(instance, reg.Product | reg.Supplier | reg.DistributionAuthorization):
        return [gen_key("catalog")]
    if isinstance(instance, authz.Authorization):
        keys = [gen_key("i", instance.institution_id)]
        if instance.grantee_institution_id:  # a technology granted to another institution
            keys.append(gen_key("i", instance.grantee_institution_id))
        if instance.practitioner_id:
            keys.append(gen_key("p", instance.practitioner_id))
        return keys
    return []


WATCHED = (
    reg.Institution,
    reg.Practitioner,
    reg.Qualification,
    reg.PractitionerSite,
    reg.Lot,
    reg.Device,
    reg.Product,
    reg.Supplier,
    reg.DistributionAuthorization,
    authz.Authorization,
)


def _on_change(sender: type, instance: Any, **kwargs: Any) -> None:
    keys = _keys_for(instance)
    if keys:
        transaction.on_commit(lambda: bump(keys))


def connect() -> None:
    for model in WATCHED:
        post_save.connect(_on_change, sender=model, dispatch_uid=f"authz-gen-save-{model.__name__}")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"authz-gen-delete-{model.__name__}")
