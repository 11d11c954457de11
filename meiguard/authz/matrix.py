"""The privilege matrix (执业权限矩阵, issue 16 item 4): for one institution, its people × its procedures.

Each cell is the pure engine's answer (``policy.decide`` with ``PRACTITIONER_CHECKS``: no lot, device, supervisor
or anaesthetist) to "may this person do this procedure here, on this day?" — the same question as the
capability list, asked for everyone at once. Nothing is written (no decision log, no snapshot rows).

Facts are loaded in bulk, with the loader's columns and fact builders (``authz/snapshot.py``), like
``rules/impact.py`` does for populations: the institution (with the rules generation) once, the people, their
qualifications, sites and authorizations once each; the rule pack is resolved once (cached) and the pack facts
are built once per procedure. The query count does not grow with people or procedures (pinned in
``tests/test_matrix.py``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.registry.models import Institution, Practitioner, PractitionerSite, Qualification
from meiguard.rules.choices import Subject
from meiguard.rules.services import Procedure, resolve

from . import snapshot as snapshots
from .choices import AuthorizationKind
from .facts import (
    CHINA_TZ,
    AuthorizationFacts,
    DecisionRequest,
    PractitionerFacts,
    QualificationFacts,
    SiteFacts,
    Snapshot,
)
from .models import Authorization
from .policy import PRACTITIONER_CHECKS, Decision, Outcome, decide


@dataclass(frozen=True, slots=True)
class Person:
    facts: PractitionerFacts
    title: str  # the Title code (for display)


@dataclass(frozen=True, slots=True)
class Group:
    subject: str
    grade: int | None
    procedures: tuple[Procedure, ...]


@dataclass(slots=True)
class Matrix:
    institution: Institution
    on: dt.date
    at: dt.datetime
    rule_pack: str
    people: list[Person]
    groups: list[Group]
    cells: dict[tuple[int, str], Decision] = field(default_factory=dict)
    # Opened on one subject because the whole grid is large (``is_large``): that subject, and the full size.
    defaulted_subject: str = ""
    full_people: int = 0
    full_procedures: int = 0

    @property
    def procedures(self) -> list[Procedure]:
        return [p for g in self.groups for p in g.procedures]

    def decision(self, person_id: int, code: str) -> Decision:
        return self.cells[(person_id, code)]

    def counts(self) -> dict[str, int]:
        out = {o.value: 0 for o in Outcome}
        for d in self.cells.values():
            out[d.outcome.value] += 1
        return out


@dataclass(frozen=True, slots=True)
class Filters:
    subject: str = ""
    grade: int | None = None  # 0: procedures without a grade (non-surgical)
    profession: str = ""
    outcome: str = ""


# Above these, the matrix opens on one subject (with a note and a "show all" link) instead of the whole grid:
# 60 people or 2,000 cells is about where a page of cells stops being readable and costs over a second to
# compute and render on a tablet.
LARGE_PEOPLE = 60
LARGE_CELLS = 2000


def is_large(people: int, procedures: int) -> bool:
    """Whether the unfiltered grid is too large to open whole."""
    return people > LARGE_PEOPLE or people * procedures > LARGE_CELLS


def default_subject(procs: Iterable[Procedure]) -> str:
    """The subject a large matrix opens on: the first, in the catalogue's order, that has procedures."""
    present = {p.subject for p in procs}
    return next((s for s in Subject.values if s in present), min(present, default=""))


def noon(on: dt.date) -> dt.datetime:
    return dt.datetime.combine(on, dt.time(12), tzinfo=CHINA_TZ)


def _people(ids: list[int]) -> dict[int, PractitionerFacts]:
    rows = {
        r[0]: r
        for r in Practitioner.objects.filter(pk__in=ids).order_by().values_list(*snapshots.PERSON_COLUMNS)
    }
    quals: dict[int, list[QualificationFacts]] = {pk: [] for pk in rows}
    for q in sorted(
        Qualification.objects.filter(practitioner_id__in=ids)
        .order_by()
        .values_list(*snapshots.QUALIFICATION_COLUMNS),
        key=lambda r: r[1],
    ):
        quals[q[0]].append(snapshots.qualification_facts(q))
    sites: dict[int, list[SiteFacts]] = {pk: [] for pk in rows}
    for s in sorted(
        PractitionerSite.objects.filter(practitioner_id__in=ids)
        .order_by()
        .values_list(*snapshots.SITE_COLUMNS),
        key=lambda r: r[1],
    ):
        sites[s[0]].append(SiteFacts(s[2], s[3], s[4]))
    return {pk: snapshots.person_facts(row, sites[pk], quals[pk]) for pk, row in rows.items()}


def _authorizations(ids: list[int], institution_id: int) -> dict[int | None, list[AuthorizationFacts]]:
    """The loader's authorization rows for all of ``ids`` at once, by practitioner (None: the institution's
    technology authorizations, which apply to everyone)."""
    rows = (
        Authorization.objects.filter(
            Q(institution_id=institution_id, practitioner_id__in=ids)
            | Q(kind=AuthorizationKind.TECHNOLOGY, grantee_institution_id=institution_id)
            | Q(
                kind=AuthorizationKind.TECHNOLOGY,
                institution_id=institution_id,
                practitioner_id__isnull=True,
                grantee_institution_id__isnull=True,
            )
        )
        .order_by()
        .values_list(*snapshots.AUTHORIZATION_COLUMNS)
    )
    out: dict[int | None, list[tuple[Any, ...]]] = defaultdict(list)
    for a in rows:
        _pk, kind, inst_id, person_id, *_rest, grantee_id = a
        shared = kind == AuthorizationKind.TECHNOLOGY and (
            grantee_id == institution_id
            or (inst_id == institution_id and person_id is None and grantee_id is None)
        )
        out[None if shared else person_id].append(a)
    return {k: [snapshots.authorization_facts(a) for a in v] for k, v in out.items()}


def _own(
    person_id: int, grouped: dict[int | None, list[AuthorizationFacts]]
) -> tuple[AuthorizationFacts, ...]:
    """What the single-request loader gives this person: their rows and the shared ones, by id."""
    return tuple(sorted([*grouped.get(person_id, ()), *grouped.get(None, ())], key=lambda a: a.id))


def _group(procs: Iterable[Procedure]) -> list[Group]:
    by: dict[tuple[str, int | None], list[Procedure]] = defaultdict(list)
    for p in procs:
        by[(p.subject, p.grade)].append(p)
    return [
        Group(subject, grade, tuple(sorted(by[(subject, grade)], key=lambda p: p.code)))
        for subject, grade in sorted(by, key=lambda k: (k[0], k[1] or 0))
    ]


def compute(
    actor: Actor,
    institution_id: int,
    on: dt.date,
    filters: Filters = Filters(),
    *,
    narrow_if_large: bool = False,
) -> Matrix:
    """The matrix of a visible institution on ``on`` (foreign or unknown → ``NotFoundField``, a 404).

    ``narrow_if_large``: when the grid would be large (``is_large``), keep only ``default_subject``'s procedures
    and say so in ``Matrix.defaulted_subject`` (no extra query: the sizes are known before any cell is decided).
    """
    inst = Institution.objects.visible_to(actor).filter(pk=institution_id).first()
    if inst is None:
        raise NotFoundField("institution")
    row = snapshots.InstitutionRow(
        *Institution.objects.filter(pk=inst.pk).order_by().values_list(*snapshots.INSTITUTION_COLUMNS)[0]
    )
    pack = resolve(row.province, on, row.pk)  # ActionError when no pack is in force: the caller shows it
    at = noon(on)

    subjects = set(row.subjects)
    procs = [p for p in pack.procedures.values() if p.subject in subjects]
    if filters.subject:
        procs = [p for p in procs if p.subject == filters.subject]
    if filters.grade is not None:
        procs = [p for p in procs if (p.grade or 0) == filters.grade]

    people_qs = Practitioner.objects.visible_to(actor).filter(
        Q(main_institution_id=row.pk)
        | Q(
            pk__in=PractitionerSite.objects.filter(institution_id=row.pk, valid_from__lte=on)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
            .values("practitioner_id")
        )
    )
    if filters.profession:
        people_qs = people_qs.filter(profession=filters.profession)
    listed = list(people_qs.order_by("name", "pk").values_list("pk", "title"))
    ids = [pk for pk, _title in listed]
    full_people, full_procedures, defaulted = len(ids), len(procs), ""
    if narrow_if_large and filters == Filters() and is_large(full_people, full_procedures):
        defaulted = default_subject(procs)
        procs = [p for p in procs if p.subject == defaulted]
    facts = _people(ids) if ids else {}
    grouped = _authorizations(ids, row.pk) if ids else {}
    institution = snapshots.institution_facts(row)
    pack_facts = {p.code: snapshots.pack_facts(pack, row, p.code) for p in procs}

    cells: dict[tuple[int, str], Decision] = {}
    for pk in ids:
        person = facts[pk]
        auths = _own(pk, grouped)
        for p in procs:
            req = DecisionRequest(institution_id=row.pk, practitioner_id=pk, procedure_code=p.code, at=at)
            snap = Snapshot(
                pack=pack_facts[p.code], institution=institution, practitioner=person, authorizations=auths
            )
            cells[(pk, p.code)] = decide(req, snap, checks=PRACTITIONER_CHECKS)

    people = [Person(facts[pk], title) for pk, title in listed]
    if filters.outcome:
        people = [
            x for x in people if any(cells[(x.facts.id, p.code)].outcome == filters.outcome for p in procs)
        ]
        keep = {x.facts.id for x in people}
        procs = [p for p in procs if any(cells[(pk, p.code)].outcome == filters.outcome for pk in keep)]
    return Matrix(
        inst,
        on,
        at,
        pack.version_label,
        people,
        _group(procs),
        cells,
        defaulted_subject=defaulted,
        full_people=full_people,
        full_procedures=full_procedures,
    )


@dataclass(frozen=True, slots=True)
class Cell:
    snapshot: Snapshot
    decision: Decision


def cell(actor: Actor, institution_id: int, practitioner_id: int, code: str, on: dt.date) -> Cell:
    """One cell decided through the single-request loader (access-checked, not logged)."""
    req = DecisionRequest(
        institution_id=institution_id, practitioner_id=practitioner_id, procedure_code=code, at=noon(on)
    )
    snap = snapshots.load(actor, req, use_cache=False)
    return Cell(snap, decide(req, snap, checks=PRACTITIONER_CHECKS))
