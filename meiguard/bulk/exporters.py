"""Exports in the import format (pretix-style exporters): what the actor can see, through the same specs.

Scope: practitioners whose main institution (主执业机构) the actor can see, their qualifications, and the
authorizations granted by institutions the actor can see; optionally one institution. ID numbers are
written in full only for people the actor manages (a registry or authorization role at their main
institution or at an institution where they are registered for multi-site practice); everyone else gets
the masked value the pages show, which the importer refuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone, translation

from meiguard.authz.models import AUTHORIZATION_WRITERS, Authorization
from meiguard.core.access import Actor
from meiguard.core.choices import REGISTRY_WRITERS
from meiguard.registry.crypto import mask_id_number
from meiguard.registry.models import Institution, Practitioner, Qualification

from . import queries
from .choices import ImportKind
from .importer import AUTH_SCOPE, AUTH_TEXT, PRACTITIONER_FIELDS, QUALIFICATION_FIELDS, QUALIFICATION_KEY
from .specs import AUTHORIZATIONS, FORMAT_LANGUAGE, PRACTITIONERS, QUALIFICATIONS, SHEETS_BY_KIND
from .workbook import InstitutionRow, build

ID_READER_ROLES = REGISTRY_WRITERS | AUTHORIZATION_WRITERS


class IdNumbers:
    """Full ID numbers for the people the actor manages, masked for everyone else."""

    def __init__(self, actor: Actor, practitioner_ids: set[int]):
        if actor.is_unrestricted:
            self.full = practitioner_ids
            return
        orgs = actor.org_ids_with_roles(ID_READER_ROLES)
        self.full = set(
            Practitioner.objects.filter(pk__in=practitioner_ids)
            .filter(
                Q(main_institution__organization_id__in=orgs)
                | Q(sites__institution__organization_id__in=orgs)
            )
            .values_list("pk", flat=True)
        )

    def __call__(self, person: Practitioner | None) -> str:
        if person is None:
            return ""
        number = person.id_number or ""
        return number if person.pk in self.full else mask_id_number(number)


def institutions_in_scope(actor: Actor, institution_id: int | None = None) -> QuerySet[Institution]:
    qs = Institution.objects.visible_to(actor)
    if institution_id is not None:
        qs = qs.filter(pk=institution_id)
    return qs.order_by("credit_code")


def practitioner_rows(actor: Actor, institutions: QuerySet[Institution]) -> Iterator[dict[str, Any]]:
    people = list(
        Practitioner.objects.visible_to(actor)
        .filter(main_institution__in=institutions)
        .select_related("main_institution")
        .order_by("main_institution__credit_code", "name", "pk")
    )
    ids = IdNumbers(actor, {p.pk for p in people})
    for p in people:
        yield {
            "institution": p.main_institution.credit_code,
            "id_number": ids(p),
            **{f: getattr(p, f) for f in PRACTITIONER_FIELDS},
        }


def qualification_rows(actor: Actor, institutions: QuerySet[Institution]) -> Iterator[dict[str, Any]]:
    quals = list(
        Qualification.objects.visible_to(actor)
        .filter(practitioner__main_institution__in=institutions)
        .select_related("practitioner")
        .order_by(
            "practitioner__main_institution__credit_code",
            "practitioner__name",
            "practitioner_id",
            "kind",
            "pk",
        )
    )
    ids = IdNumbers(actor, {q.practitioner_id for q in quals})
    for q in quals:
        yield {
            "practitioner": ids(q.practitioner),
            "practitioner_name": q.practitioner.name,
            **{f: getattr(q, f) for f in (*QUALIFICATION_KEY, *QUALIFICATION_FIELDS)},
        }


def authorization_rows(actor: Actor, institutions: QuerySet[Institution]) -> Iterator[dict[str, Any]]:
    auths = list(
        Authorization.objects.visible_to(actor)
        .filter(institution__in=institutions)
        .select_related("institution", "practitioner", "grantee_institution", "supervisor")
        .order_by("institution__credit_code", "valid_from", "pk")
    )
    people = {a.practitioner_id for a in auths if a.practitioner_id} | {
        a.supervisor_id for a in auths if a.supervisor_id
    }
    ids = IdNumbers(actor, people)
    for a in auths:
        yield {
            "institution": a.institution.credit_code,
            "kind": a.kind,
            "practitioner": ids(a.practitioner),
            "practitioner_name": a.practitioner.name if a.practitioner else "",
            "grantee_institution": a.grantee_institution.credit_code if a.grantee_institution else "",
            "valid_from": a.valid_from,
            "valid_until": a.valid_until,
            "max_grade": a.max_grade,
            "supervisor": ids(a.supervisor),
            "status": a.status,
            **{f: getattr(a, f) for f in (*AUTH_SCOPE, *AUTH_TEXT)},
        }


ROWS = {
    PRACTITIONERS.kind: practitioner_rows,
    QUALIFICATIONS.kind: qualification_rows,
    AUTHORIZATIONS.kind: authorization_rows,
}


def _institution_sheet(actor: Actor, extra: QuerySet[Institution] | None = None) -> list[InstitutionRow]:
    qs = queries.importable_institutions(actor)
    rows = {i.credit_code: i for i in qs}
    if extra is not None:
        rows.update({i.credit_code: i for i in extra})
    return [InstitutionRow(i.name, i.credit_code, i.province) for _, i in sorted(rows.items())]


def template(actor: Actor, kind: str) -> bytes:
    """An empty workbook of ``kind``, listing the institutions the actor may import into."""
    with translation.override(FORMAT_LANGUAGE):
        label = str(ImportKind(kind).label)
    return build(
        SHEETS_BY_KIND[kind],
        institutions=_institution_sheet(actor),
        title=f"meiguard 批量导入模板 — {label}",
    )


def export(actor: Actor, kind: str, *, institution_id: int | None = None) -> bytes:
    """Everything of ``kind`` the actor can see (optionally one institution), importable as it is."""
    scope = institutions_in_scope(actor, institution_id)
    specs = SHEETS_BY_KIND[kind]
    rows = {spec.kind: list(ROWS[spec.kind](actor, scope)) for spec in specs}
    with translation.override(FORMAT_LANGUAGE):
        label = str(ImportKind(kind).label)
    stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    return build(
        specs,
        rows,
        institutions=_institution_sheet(actor, scope),
        title=f"meiguard 导出 — {label}({stamp})",
    )


def export_rows(
    actor: Actor, kind: str, *, institution_id: int | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The rows an export of ``kind`` holds, before they are written to cells (for the API and tests)."""
    scope = institutions_in_scope(actor, institution_id)
    return {spec.kind: list(ROWS[spec.kind](actor, scope)) for spec in SHEETS_BY_KIND[kind]}
