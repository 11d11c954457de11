"""The header's global search: people, institutions, products, lots, authorizations, applications and check
records found by name, number or code.

Tenant-scoped through each model's ``visible_to`` (the one access check); bounded: the term is cut to
``MAX_TERM`` characters and each kind returns at most ``PER_KIND`` rows (one LIMIT query per kind, so a page
costs the same seven queries at ten rows or a million). A term of digits, optionally after ``#``, also
finds a record by its number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from meiguard.authz.models import Authorization, DecisionLog
from meiguard.core.access import Actor
from meiguard.registry.models import Institution, Lot, Practitioner, Product
from meiguard.rules.impact import outcome_label
from meiguard.rules.labels import codes_named, procedure_name
from meiguard.workflow.models import Application

MAX_TERM = 64
PER_KIND = 10


@dataclass(frozen=True, slots=True)
class Hit:
    title: str
    detail: str
    url: str


@dataclass(slots=True)
class Group:
    key: str
    label: str | Promise
    hits: list[Hit] = field(default_factory=list)
    more: bool = False


def clean(term: str) -> str:
    return " ".join(term.split())[:MAX_TERM]


def _number(term: str) -> int | None:
    raw = term[1:] if term.startswith("#") else term
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None


def _take(qs: QuerySet[Any]) -> tuple[list[Any], bool]:
    rows = list(qs[: PER_KIND + 1])
    return rows[:PER_KIND], len(rows) > PER_KIND


def _by_number(q: Q, number: int | None) -> Q:
    return q | Q(pk=number) if number is not None else q


def search(actor: Actor, term: str) -> list[Group]:
    """Every kind, in a fixed order; kinds without hits are left out."""
    term = clean(term)
    if not term or not actor.is_authenticated:
        return []
    n = _number(term)
    text = term.lstrip("#") if n is not None else term
    groups: list[Group] = []
    # Records keep procedure codes; a procedure's name (either language) finds them too.
    named = codes_named(text)
    by_procedure = (
        Q(procedure_code__icontains=text) | Q(procedure_code__in=named)
        if named
        else Q(procedure_code__icontains=text)
    )

    def add(key: str, label: str | Promise, qs: QuerySet[Any], render: Any) -> None:
        rows, more = _take(qs)
        if rows:
            groups.append(Group(key, label, [render(r) for r in rows], more))

    add(
        "practitioners",
        pgettext_lazy("search results", "执业人员"),
        Practitioner.objects.visible_to(actor)
        .filter(Q(name__icontains=text) | Q(licence_no__icontains=text))
        .select_related("main_institution")
        .order_by("name", "pk"),
        lambda p: Hit(
            p.name,
            f"{p.get_profession_display()} · {p.main_institution.name}",
            reverse("registry:practitioner_detail", args=[p.pk]),
        ),
    )
    add(
        "institutions",
        pgettext_lazy("search results", "医疗机构"),
        Institution.objects.visible_to(actor)
        .filter(Q(name__icontains=text) | Q(licence_no__icontains=text) | Q(credit_code__icontains=text))
        .order_by("name", "pk"),
        lambda i: Hit(i.name, f"{i.province} {i.city}", reverse("registry:institution_detail", args=[i.pk])),
    )
    add(
        "products",
        pgettext_lazy("search results", "产品"),
        Product.objects.visible_to(actor)
        .filter(
            Q(generic_name__icontains=text)
            | Q(brand_name__icontains=text)
            | Q(registration_no__icontains=text)
            | Q(udi_di__icontains=text)
        )
        .order_by("generic_name", "pk"),
        lambda p: Hit(
            p.brand_name or p.generic_name,
            f"{p.generic_name} · {p.registration_no}",
            reverse("registry:product_detail", args=[p.pk]),
        ),
    )
    add(
        "lots",
        pgettext_lazy("search results", "批次"),
        Lot.objects.visible_to(actor)
        .filter(lot_no__icontains=text)
        .select_related("product", "institution")
        .order_by("lot_no", "pk"),
        lambda lot: Hit(
            lot.lot_no,
            f"{lot.product.brand_name or lot.product.generic_name} · {lot.institution.name} · {lot.expiry_date}",
            reverse("registry:lot_detail", args=[lot.pk]),
        ),
    )
    add(
        "authorizations",
        pgettext_lazy("search results", "授权"),
        Authorization.objects.visible_to(actor)
        .filter(
            _by_number(
                Q(practitioner__name__icontains=text)
                | by_procedure
                | Q(product_brand__icontains=text)
                | Q(device_model__icontains=text)
                | Q(technology_name__icontains=text),
                n,
            )
        )
        .select_related("institution", "practitioner")
        .order_by("-pk"),
        lambda a: Hit(
            f"#{a.pk} {a.practitioner.name if a.practitioner else a.institution.name}",
            f"{a.get_kind_display()} · "
            f"{procedure_name(a.procedure_code) or a.subject or a.product_brand or a.device_model or a.technology_name}"
            f" · {a.get_status_display()}",
            reverse("authz:authorization_detail", args=[a.pk]),
        ),
    )
    add(
        "applications",
        pgettext_lazy("search results", "授权申请"),
        Application.objects.visible_to(actor)
        .filter(_by_number(Q(practitioner__name__icontains=text) | by_procedure, n))
        .select_related("practitioner", "institution")
        .order_by("-pk"),
        lambda a: Hit(
            f"#{a.pk} {a.practitioner.name if a.practitioner else a.institution.name}",
            f"{a.get_kind_display()} · {a.scope_label()} · {a.get_status_display()}",
            reverse("workflow:detail", args=[a.pk]),
        ),
    )
    add(
        "decisions",
        pgettext_lazy("search results", "核验记录"),
        DecisionLog.objects.visible_to(actor)
        .filter(_by_number(Q(practitioner__name__icontains=text) | by_procedure, n))
        .select_related("practitioner")
        .order_by("-created_at", "-pk"),
        lambda d: Hit(
            f"#{d.pk} {d.practitioner.name}",
            f"{procedure_name(d.procedure_code)} · {outcome_label(d.outcome)} · {timezone.localtime(d.at):%Y-%m-%d %H:%M}",
            reverse("authz:decision_detail", args=[d.pk]),
        ),
    )
    return groups
