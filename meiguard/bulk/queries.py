"""Every read of the bulk app, tenant-scoped.

Import runs are seen by their uploader and, through ``ImportRun.objects.visible_to``, by the members and
overseers of the institutions they wrote to. Only the uploader (or a platform admin) sees a run's rows
(errors and preview), since a file may name several institutions.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from meiguard.authz.models import AUTHORIZATION_WRITERS
from meiguard.core.access import Actor
from meiguard.core.choices import REGISTRY_WRITERS
from meiguard.registry.models import Institution

from .choices import RunMode
from .models import ImportRun

IMPORT_ROLES = REGISTRY_WRITERS | AUTHORIZATION_WRITERS


def importable_institutions(actor: Actor) -> QuerySet[Institution]:
    """Institutions where the actor may import something (registry or authorization roles)."""
    qs = Institution.objects.visible_to(actor)
    if not actor.is_unrestricted:
        qs = qs.filter(organization_id__in=actor.org_ids_with_roles(IMPORT_ROLES))
    return qs.order_by("name", "pk")


def can_import(actor: Actor) -> bool:
    return importable_institutions(actor).exists()


def exportable_institutions(actor: Actor) -> QuerySet[Institution]:
    return Institution.objects.visible_to(actor).order_by("name", "pk")


def runs(actor: Actor) -> QuerySet[ImportRun]:
    if not actor.is_authenticated:
        return ImportRun.objects.none()
    visible = Q(pk__in=ImportRun.objects.visible_to(actor).values("pk"))
    if actor.user_id is not None:
        visible |= Q(created_by_id=actor.user_id)
    qs = ImportRun.objects.filter(visible)
    return qs.select_related("created_by").order_by("-created_at", "-pk")


def run(actor: Actor, pk: int) -> ImportRun:
    found = runs(actor).filter(pk=pk).first()
    if found is None:
        raise Http404("not found")
    return found


def can_see_rows(actor: Actor, run: ImportRun) -> bool:
    return actor.is_unrestricted or (actor.user_id is not None and run.created_by_id == actor.user_id)


def run_to_apply(actor: Actor, pk: int) -> ImportRun:
    """The actor's own dry run; anything else is a 404 (the apply claims it with a conditional update)."""
    if actor.user_id is None:
        raise Http404("not found")
    found = ImportRun.objects.filter(pk=pk, mode=RunMode.DRY_RUN, created_by_id=actor.user_id).first()
    if found is None:
        raise Http404("not found")
    return found
