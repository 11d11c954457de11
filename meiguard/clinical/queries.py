"""Every read of the clinical app, tenant-scoped through ``visible_to``."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Value, Window

from meiguard.core.access import Actor, _forward_only
from meiguard.core.apierrors import NotFoundField
from meiguard.core.excel import MAX_EXPORT_ROWS
from meiguard.lib.fixedsql import FixedQuery
from meiguard.registry.crypto import blind_index, mask_id_number
from meiguard.registry.models import Lot
from meiguard.registry.validators import normalize_code

from .choices import DocumentType, Sex
from .models import (
    Assessment,
    Case,
    ChecklistNode,
    Client,
    ConsentSignature,
    Consultation,
    OperationRecord,
    Review,
    Usage,
    mask_phone,
)

SEARCH_LIMIT = 50
# The SQL of each look-up below is compiled once (``lib/fixedsql``) and its rows are plain tuples turned into
# the small rows the pages, the API and the exports show: building a queryset and model instances per request
# cost several times the index seek itself (docs/benchmarks.md, "Clinical").


def _scope(actor: Actor) -> list[int] | int | None:
    """The organisations ``visible_to(actor)`` lets through, as a ``FixedQuery`` argument: a sorted list, 0 for
    an actor who sees everything (platform admin, system), None for one who sees nothing."""
    if actor.is_unrestricted:
        return 0
    if not actor.is_authenticated:
        return None
    orgs = sorted(actor.readable_org_ids)
    return orgs or None


def _reader(orgs: list[int] | int) -> Actor:
    """An actor reading exactly ``orgs`` (or everything): compiled queries go through the same ``visible_to``
    as every other read, so tenancy is the models' own policy, not a copy of it."""
    if isinstance(orgs, int):
        return Actor.system("fixed-query")
    return Actor(user_id=0, username="fixed-query", overseen_org_ids=frozenset(orgs))


@dataclass(frozen=True, slots=True)
class ClientRow:
    """A client as a search result shows it (page and API): no ID number, only its mask."""

    pk: int
    institution_id: int
    name: str
    sex: str
    date_of_birth: dt.date
    phone: str
    document_type: str
    masked_id_number: str
    nationality: str
    allergies: str
    medical_history: str
    medications: str
    previous_treatments: str

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    def get_sex_display(self) -> str:
        return str(dict(Sex.choices).get(self.sex, self.sex))


_CLIENT_COLUMNS = (
    "pk",
    "institution_id",
    "name",
    "sex",
    "date_of_birth",
    "phone",
    "document_type",
    "id_number",
    "nationality",
    "allergies",
    "medical_history",
    "medications",
    "previous_treatments",
)


def _client_row(r: tuple[Any, ...]) -> ClientRow:
    return ClientRow(*r[:7], mask_id_number(r[7] or ""), *r[8:])  # type: ignore[call-arg]


def _clients(orgs: list[int] | int, institution_id: int) -> QuerySet[Client]:
    return Client.objects.visible_to(_reader(orgs)).filter(institution_id=institution_id)


@functools.cache
def _search_query(kind: str, limit: int) -> FixedQuery:
    """One compiled query per kind of search: each is one indexed lookup on (institution, …)."""
    if (
        kind == "document_or_phone"
    ):  # an ID number of any document type, or (a number that is not one) a phone
        return FixedQuery(
            lambda orgs, inst, indexes, phone: (
                _clients(orgs, inst)
                .filter(Q(id_number_index__in=indexes) | Q(phone=phone))
                .order_by("name", "pk")
                .values_list(*_CLIENT_COLUMNS)[:limit]
            )
        )
    if kind == "document":
        return FixedQuery(
            lambda orgs, inst, indexes: (
                _clients(orgs, inst)
                .filter(id_number_index__in=indexes)
                .order_by("name", "pk")
                .values_list(*_CLIENT_COLUMNS)[:limit]
            )
        )
    if kind == "phone":
        return FixedQuery(
            lambda orgs, inst, phone: (
                _clients(orgs, inst)
                .filter(phone=phone)
                .order_by("name", "pk")
                .values_list(*_CLIENT_COLUMNS)[:limit]
            )
        )

    def prefix(orgs: list[int] | int, inst: int, q: str, upper: str) -> QuerySet[Any]:
        qs = _clients(orgs, inst).filter(name__startswith=q)
        if connection.vendor == "sqlite":
            # SQLite's LIKE ignores ASCII case and cannot use the index; the same prefix as a range can
            # (PostgreSQL uses its varchar_pattern_ops index for LIKE 'prefix%' instead, migration 0002).
            qs = qs.filter(name__gte=q, name__lt=upper)
        return qs.order_by("name", "pk").values_list(*_CLIENT_COLUMNS)[:limit]

    return FixedQuery(prefix)


def search_clients(
    actor: Actor, institution_id: int, q: str, *, limit: int = SEARCH_LIMIT
) -> list[ClientRow]:
    """By ID number (exact, through the blind index of every document type), phone (exact) or name (prefix).
    One query whatever the branch, each an indexed lookup: (institution, id_number_index), (institution, phone),
    (institution, name). Only the mask of the ID number is kept (one decryption per row found)."""
    q = (q or "").strip()[:64]
    orgs = _scope(actor)
    if not q or orgs is None:
        return []
    code = normalize_code(q)
    phone = q.replace(" ", "").replace("-", "")
    is_phone = phone.lstrip("+").isdigit()
    if code.isalnum() and len(code) >= 6 and any(ch.isdigit() for ch in code):
        indexes = [blind_index(f"{t}:{code}") for t in DocumentType.values]
        if is_phone:
            rows = _search_query("document_or_phone", limit).run(orgs, institution_id, indexes, phone)
        else:
            rows = _search_query("document", limit).run(orgs, institution_id, indexes)
    elif is_phone:
        rows = _search_query("phone", limit).run(orgs, institution_id, phone)
    else:
        rows = _search_query("prefix", limit).run(orgs, institution_id, q, q + "\U0010ffff")
    return [_client_row(r) for r in rows]


def client(actor: Actor, pk: int) -> Client:
    found = Client.objects.visible_to(actor).select_related("institution").filter(pk=pk).first()
    if found is None:
        raise NotFoundField("client_id")
    return found


def case(actor: Actor, pk: int) -> Case:
    found = (
        Case.objects.visible_to(actor)
        .select_related("client", "institution", "operator", "anesthetist", "nurse")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFoundField("case_id")
    return found


@dataclass(frozen=True, slots=True)
class Event:
    at: dt.datetime
    kind: str
    summary: str
    data: dict[str, Any]


def timeline(actor: Actor, pk: int) -> tuple[Case, list[Event]]:
    """The case's steps in time order, built from the rows themselves (the audit trail has the who/when of
    every change as well)."""
    c = case(actor, pk)
    events: list[Event] = [Event(c.created_at, "case.created", c.procedure_name, {"code": c.code})]
    cons = Consultation.objects.filter(case=c).select_related("doctor").first()
    if cons is not None:
        events.append(Event(cons.created_at, "consultation.saved", cons.needs[:80], {}))
        if cons.signed_at:
            events.append(
                Event(cons.signed_at, "consultation.signed", cons.doctor.name if cons.doctor else "", {})
            )
    for sig in ConsentSignature.objects.filter(case=c):
        events.append(
            Event(
                sig.signed_at,
                f"consent.{sig.decision}",
                sig.signer_name,
                {"template_version": sig.template_version, "content_hash": sig.content_hash},
            )
        )
        if sig.withdrawn_at:
            events.append(Event(sig.withdrawn_at, "consent.withdrawn", sig.withdrawal_reason[:80], {}))
    a = Assessment.objects.filter(case=c).select_related("chief_signed_by", "anesthetist_signed_by").first()
    if a is not None:
        events.append(
            Event(
                a.created_at,
                "assessment.saved",
                f"{a.score}",
                {"score": a.score, "risk_level": a.risk_level, "passed": a.passed},
            )
        )
        if a.chief_signed_at and a.chief_signed_by:
            events.append(Event(a.chief_signed_at, "assessment.chief_signed", a.chief_signed_by.name, {}))
        if a.anesthetist_signed_at and a.anesthetist_signed_by:
            events.append(
                Event(
                    a.anesthetist_signed_at, "assessment.anesthetist_signed", a.anesthetist_signed_by.name, {}
                )
            )
    r = Review.objects.filter(case=c).first()
    if r is not None:
        events.append(Event(r.created_at, "review.opened", r.kind, {"kind": r.kind, "warnings": r.warnings}))
        if r.decided_at:
            events.append(Event(r.decided_at, f"review.{r.status}", r.kind, {}))
    for node in ChecklistNode.objects.filter(case=c):
        if node.completed_at:
            events.append(Event(node.completed_at, "checklist.completed", node.node, {"node": node.node}))
    rec = OperationRecord.objects.filter(case=c).first()
    if rec is not None:
        events.append(Event(rec.opened_at, "record.opened", "", {"decision_id": rec.decision_id}))
        for u in Usage.objects.filter(record=rec).select_related("lot", "device"):
            label = u.lot.lot_no if u.lot else (u.device.serial_no if u.device else "")
            events.append(
                Event(
                    u.created_at,
                    "usage.added",
                    label,
                    {
                        "lot_id": u.lot_id,
                        "device_id": u.device_id,
                        "dose": f"{u.dose_value.normalize():f}{u.dose_unit}"
                        if u.dose_value is not None
                        else "",
                        "site": u.site,
                        "minutes": u.minutes,
                    },
                )
            )
        if rec.closed_at:
            events.append(Event(rec.closed_at, "record.closed", "", {}))
    events.sort(key=lambda e: e.at)
    return c, events


@dataclass(frozen=True, slots=True)
class TraceRow:
    """One usage as the look-backs show it (pages, API, Excel)."""

    usage_id: int
    client_id: int
    client_name: str
    client_phone: str
    case_id: int
    case_code: str
    procedure_name: str
    lot_id: int | None
    lot_no: str  # "" for a device
    device_id: int | None
    device_serial_no: str  # "" for a lot
    unit_serial: str
    product: str  # brand name, else generic name, of the lot's or the device's product
    dose_value: Decimal | None
    dose_unit: str
    site: str
    created_at: dt.datetime


_TRACE_COLUMNS = (
    "pk",
    "client_id",
    "client__name",
    "client__phone",
    "case_id",
    "case__code",
    "case__procedure_name",
    "lot_id",
    "lot__lot_no",
    "device_id",
    "device__serial_no",
    "unit_serial",
    "lot__product__brand_name",
    "lot__product__generic_name",
    "device__product__brand_name",
    "device__product__generic_name",
    "dose_value",
    "dose_unit",
    "site",
    "created_at",
)


_DEVICE_COLUMNS = ("device__serial_no", "device__product__brand_name", "device__product__generic_name")


def _trace_row(r: tuple[Any, ...]) -> TraceRow:
    lot_id = r[7]
    product = (r[12] or r[13]) if lot_id is not None else (r[14] or r[15] or "")
    return TraceRow(*r[:8], r[8] or "", r[9], r[10] or "", r[11], product or "", *r[16:])  # type: ignore[call-arg]


def _parent_visible(fk: str, parent: Any, orgs: list[int] | int) -> Q:
    """``fk`` points at a ``parent`` row ``visible_to`` the reader of ``orgs``. A single forward path is the
    same filter as ``visible_to`` applies, spelled through ``fk`` (one join, no subquery: every extra relation
    costs PostgreSQL planning time); any other policy keeps ``visible_to`` itself as a subquery."""
    policy = parent.tenancy
    if isinstance(orgs, int) or policy.shared_read:
        return Q()
    path = policy.read_paths[0]
    if len(policy.read_paths) == 1 and _forward_only(parent, path):
        return Q(**{f"{fk}__{path}__in": orgs})
    return Q(**{f"{fk}__in": parent.objects.visible_to(_reader(orgs))})


# The most rows one look-back call returns: an export's rows and one more, to tell the export was cut.
LOOKBACK_MAX = MAX_EXPORT_ROWS + 1


@dataclass(frozen=True, slots=True)
class TracePage:
    """One page of a look-back and how many usages the whole list has (``total``)."""

    rows: list[TraceRow]
    total: int


@functools.cache
def _trace_query(by: str, counted: bool = False) -> FixedQuery:
    """Usages of one lot or one client, visible to the reader, in one query, paged by ``LIMIT``/``OFFSET``
    parameters (one statement for every page). The lot's (client's) own visibility is folded in: a foreign
    lot yields no rows even where its usages would be visible. A lot's usages are all of that lot (no
    device): its look-back does not join devices. ``counted`` adds ``COUNT(*) OVER ()``: every row carries
    the size of the whole list, so a page and its total are still one query."""
    parent: Any = Lot if by == "lot" else Client
    order = ("client_id", "created_at", "pk") if by == "lot" else ("created_at", "pk")
    columns: tuple[Any, ...] = _TRACE_COLUMNS
    if by == "lot":
        columns = tuple(Value("") if c in _DEVICE_COLUMNS else c for c in columns)

    def build(orgs: list[int] | int, key: int) -> QuerySet[Any]:
        qs = Usage.objects.visible_to(_reader(orgs)).filter(
            _parent_visible(by, parent, orgs), **{f"{by}_id": key}
        )
        if counted:
            qs = qs.annotate(total=Window(Count("pk")))
            return qs.order_by(*order).values_list(*columns, "total")
        return qs.order_by(*order).values_list(*columns)

    return FixedQuery(build, paged=True)


def _bounds(limit: int, offset: int) -> tuple[int, int]:
    if not 0 < limit <= LOOKBACK_MAX or not 0 <= offset <= 10**9:
        raise ValueError(f"look-back limit 1–{LOOKBACK_MAX}, offset 0–10^9 (got {limit}, {offset})")
    return limit, offset


def _exists(actor: Actor, by: str, key: int) -> None:
    """The lot (client) is there and visible, else a 404 naming the field. Only an empty page pays it."""
    parent: Any = Lot if by == "lot" else Client
    if not parent.objects.visible_to(actor).filter(pk=key).exists():
        raise NotFoundField(f"{by}_id")


def _trace(actor: Actor, by: str, key: int, limit: int, offset: int) -> list[TraceRow]:
    limit, offset = _bounds(limit, offset)
    orgs = _scope(actor)
    if orgs is None:
        raise NotFoundField(f"{by}_id")
    rows = _trace_query(by).run(orgs, key, limit=limit, offset=offset)
    if not rows:
        _exists(actor, by, key)
    return [_trace_row(r) for r in rows]


def _trace_page(actor: Actor, by: str, key: int, limit: int, offset: int) -> TracePage:
    limit, offset = _bounds(limit, offset)
    orgs = _scope(actor)
    if orgs is None:
        raise NotFoundField(f"{by}_id")
    query = _trace_query(by, counted=True)
    rows = query.run(orgs, key, limit=limit, offset=offset)
    if rows:
        return TracePage([_trace_row(r[:-1]) for r in rows], rows[0][-1])
    # An empty page: past the end of a list (its total from the first row), or an empty or foreign one.
    first = query.run(orgs, key, limit=1, offset=0) if offset else []
    if first:
        return TracePage([], first[0][-1])
    _exists(actor, by, key)
    return TracePage([], 0)


def clients_of_lot(
    actor: Actor, lot_id: int, *, limit: int = LOOKBACK_MAX, offset: int = 0
) -> list[TraceRow]:
    """Which clients received lot X (recall look-back), by client then time: one indexed query on (lot,
    client); a lot the actor cannot see is ``NotFoundField("lot_id")``."""
    return _trace(actor, "lot", lot_id, limit, offset)


def usages_of_client(
    actor: Actor, client_id: int, *, limit: int = LOOKBACK_MAX, offset: int = 0
) -> list[TraceRow]:
    """What went into client Y, in time order: one indexed query on (client, created_at); a client the actor
    cannot see is ``NotFoundField("client_id")``."""
    return _trace(actor, "client", client_id, limit, offset)


def clients_of_lot_page(actor: Actor, lot_id: int, *, limit: int, offset: int = 0) -> TracePage:
    """A page of ``clients_of_lot`` with the size of the whole list: one query for a page with rows."""
    return _trace_page(actor, "lot", lot_id, limit, offset)


def usages_of_client_page(actor: Actor, client_id: int, *, limit: int, offset: int = 0) -> TracePage:
    """A page of ``usages_of_client`` with the size of the whole list: one query for a page with rows."""
    return _trace_page(actor, "client", client_id, limit, offset)


def checklist_coverage(actor: Actor, institution_id: int) -> dict[str, int]:
    """Surgical cases whose record was opened, and how many have all three nodes complete."""
    surgical = Case.objects.visible_to(actor).filter(
        institution_id=institution_id, invasiveness="surgical", record__isnull=False
    )
    total = surgical.count()
    complete = (
        surgical.annotate(n=Count("checklist", filter=Q(checklist__completed_at__isnull=False)))
        .filter(n=3)
        .count()
    )
    return {"surgical_cases": total, "all_nodes_complete": complete}


def photos_of_client(actor: Actor, client_id: int) -> list[Any]:
    """The client's photos (metadata only; the bytes go through ``actions.view_photo``, audited)."""
    from .models import ClientPhoto

    client(actor, client_id)
    return list(ClientPhoto.objects.visible_to(actor).filter(client_id=client_id).order_by("taken_at", "pk"))


COVERAGE_TARGET = 100  # per cent of surgical cases with all three checklist nodes complete


@dataclass(frozen=True, slots=True)
class CoverageMonth:
    month: str  # "2026-11" (local time of the record's opening)
    surgical_cases: int
    all_nodes_complete: int

    @property
    def share(self) -> float | None:
        """Per cent, one decimal; None for a month without surgical cases."""
        if not self.surgical_cases:
            return None
        return round(100 * self.all_nodes_complete / self.surgical_cases, 1)


def checklist_coverage_by_month(
    actor: Actor, institution_id: int, *, start: dt.date, end: dt.date
) -> list[CoverageMonth]:
    """Surgical cases whose record opened in [start, end] (local dates), by month, and how many have all
    three checklist nodes complete. One query for the rows plus one for the institution's visibility."""
    from django.db.models import Count
    from django.utils import timezone

    from meiguard.registry.models import Institution

    if not Institution.objects.visible_to(actor).filter(pk=institution_id).exists():
        raise NotFoundField("institution_id")
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    rows = (
        OperationRecord.objects.visible_to(actor)
        .filter(
            case__institution_id=institution_id,
            case__invasiveness="surgical",
            opened_at__gte=lo,
            opened_at__lt=hi,
        )
        .annotate(done=Count("case__checklist", filter=Q(case__checklist__completed_at__isnull=False)))
        .values_list("opened_at", "done")
    )
    months: dict[str, list[int]] = {}
    cursor = start.replace(day=1)
    while cursor <= end:
        months[f"{cursor:%Y-%m}"] = [0, 0]
        cursor = (cursor + dt.timedelta(days=32)).replace(day=1)
    for opened_at, done in rows:
        key = f"{timezone.localtime(opened_at, tz):%Y-%m}"
        bucket = months.setdefault(key, [0, 0])
        bucket[0] += 1
        bucket[1] += int(done >= 3)
    return [CoverageMonth(k, v[0], v[1]) for k, v in months.items()]
