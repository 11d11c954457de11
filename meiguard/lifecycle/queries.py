"""What expires, and when: one read per kind of item, tenant-scoped through ``visible_to``.

``expiring()`` is the public read (dashboards, the /lifecycle/ page, the API, the reminder scan). It runs one
query per kind of item (8), whatever the number of rows. Shared reference data (suppliers, their distribution
authorizations, products) is narrowed to what concerns the actor: their own supplier's rows, or the products
(and their suppliers' brands) held as lots or devices at an institution the actor can read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from meiguard.authz.choices import AuthorizationKind, AuthorizationStatus
from meiguard.authz.models import Authorization
from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.notify.services import users_with_roles
from meiguard.registry.choices import (
    DeviceStatus,
    InstitutionStatus,
    LicenceKind,
    LotStatus,
    PractitionerStatus,
    QualificationKind,
    VerificationStatus,
)
from meiguard.registry.models import (
    Device,
    DistributionAuthorization,
    Institution,
    Lot,
    PractitionerSite,
    Product,
    Qualification,
    Supplier,
)
from meiguard.rules.choices import Subject
from meiguard.rules.labels import procedure_name

from .choices import ItemKind, bucket_for
from .models import JobRun, Reminder

Row = Mapping[str, Any]
# Lots still on the shelf: these can expire in a way that matters (used-up and recalled lots cannot be used).
HELD_LOT_STATUSES = (LotStatus.AVAILABLE, LotStatus.QUARANTINED)
MAX_WITHIN_DAYS = 3660


@dataclass(frozen=True, slots=True)
class ExpiringItem:
    kind: str  # ItemKind value
    kind_label: str
    label: str  # what expires
    holder: str  # whose it is (person, institution or supplier)
    institution_id: int | None
    practitioner_id: int | None
    expires_on: dt.date
    days_left: int
    bucket: int | None  # 7/30/60/90: the smallest threshold >= days_left; None beyond 90 days
    url: str  # detail page ("" when there is none)
    object_id: int = 0
    institution_name: str = ""
    organization_id: int | None = None  # the organisation owning the item

    @property
    def chase_key(self) -> tuple[str, int]:
        return (self.kind, self.object_id)

    @property
    def key(self) -> tuple[str, int, dt.date]:
        return (self.kind, self.object_id, self.expires_on)


def _label(choices: Iterable[tuple[Any, Any]]) -> Callable[[str], str]:
    table = dict(choices)
    return lambda value: str(table.get(value, value))


def compliance_staff(org_id: int | None) -> list[int]:
    """Whom an institution's items concern: its compliance officers, or its admins when it has none."""
    people = users_with_roles(org_id, [Role.COMPLIANCE_OFFICER])
    return people or users_with_roles(org_id, [Role.INSTITUTION_ADMIN])


def _held_product_ids(org_ids: Iterable[int] | None) -> tuple[QuerySet[Any], QuerySet[Any]]:
    """Products held as lots or devices at the institutions of ``org_ids`` (None: anywhere), as subqueries."""
    lots = Lot.objects.filter(status__in=HELD_LOT_STATUSES)
    devices = Device.objects.exclude(status=DeviceStatus.RETIRED)
    if org_ids is not None:
        ids = list(org_ids)
        lots = lots.filter(institution__organization_id__in=ids)
        devices = devices.filter(institution__organization_id__in=ids)
    return lots.values("product_id"), devices.values("product_id")


def _holding_institutions_staff(product_filter: Q) -> list[int]:
    """Compliance staff of every institution holding (lots or devices of) the products matching the filter."""
    products = Product.objects.filter(product_filter).values("pk")
    org_ids = set(
        Lot.objects.filter(product_id__in=products, status__in=HELD_LOT_STATUSES).values_list(
            "institution__organization_id", flat=True
        )
    ) | set(
        Device.objects.filter(product_id__in=products)
        .exclude(status=DeviceStatus.RETIRED)
        .values_list("institution__organization_id", flat=True)
    )
    out: list[int] = []
    for org_id in sorted(org_ids):
        out += compliance_staff(org_id)
    return out


class Source:
    """One kind of expiring item: its eligible rows, the date field, how to label it and whom it concerns."""

    kind: str
    date_field: str
    fields: tuple[str, ...]

    def base(self) -> QuerySet[Any]:
        raise NotImplementedError

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return self.base().visible_to(actor)  # type: ignore[attr-defined,no-any-return]

    def narrow(
        self, qs: QuerySet[Any], institution_id: int | None, practitioner_id: int | None
    ) -> QuerySet[Any] | None:
        """Apply the filters; None when the kind cannot match them (so no query runs)."""
        if practitioner_id is not None:
            return None
        if institution_id is not None:
            return qs.filter(institution_id=institution_id)
        return qs

    def item(self, row: Row, on: dt.date) -> ExpiringItem:
        raise NotImplementedError

    def recipients(self, row: Row) -> list[int]:
        raise NotImplementedError

    def rows(self, qs: QuerySet[Any]) -> list[dict[str, Any]]:
        return list(qs.values(*self.fields))

    def load(self, pk: int) -> dict[str, Any] | None:
        """The row of one item, unscoped (jobs run as the system), or None if it no longer qualifies."""
        found = self.rows(self.base().filter(pk=pk))
        return found[0] if found else None

    def _item(
        self,
        row: Row,
        on: dt.date,
        *,
        label: str,
        holder: str,
        url: str,
        institution_id: int | None = None,
        institution_name: str = "",
        practitioner_id: int | None = None,
        organization_id: int | None = None,
    ) -> ExpiringItem:
        expires_on: dt.date = row[self.date_field]
        days_left = (expires_on - on).days
        return ExpiringItem(
            kind=self.kind,
            kind_label=str(ItemKind(self.kind).label),
            label=label,
            holder=holder,
            institution_id=institution_id,
            practitioner_id=practitioner_id,
            expires_on=expires_on,
            days_left=days_left,
            bucket=bucket_for(days_left),
            url=url,
            object_id=row["pk"],
            institution_name=institution_name,
            organization_id=organization_id,
        )


class InstitutionLicence(Source):
    kind = ItemKind.INSTITUTION_LICENCE
    date_field = "licence_valid_until"
    fields = ("pk", "name", "licence_kind", "licence_no", "licence_valid_until", "organization_id")
    licence_label = staticmethod(_label(LicenceKind.choices))

    def base(self) -> QuerySet[Any]:
        return Institution.objects.exclude(status=InstitutionStatus.CLOSED)

    def narrow(self, qs: QuerySet[Any], institution_id: int | None, practitioner_id: int | None) -> Any:
        if practitioner_id is not None:
            return None
        return qs.filter(pk=institution_id) if institution_id is not None else qs

    def item(self, row: Row, on: dt.date) -> ExpiringItem:
        return self._item(
            row,
            on,
            label=f"{self.licence_label(row['licence_kind'])} {row['licence_no']}",
            holder=row["name"],
            url=reverse("registry:institution_detail", args=[row["pk"]]),
            institution_id=row["pk"],
            institution_name=row["name"],
            organization_id=row["organization_id"],
        )

    def recipients(self, row: Row) -> list[int]:
        return compliance_staff(row["organization_id"])


class QualificationSource(Source):
    kind = ItemKind.QUALIFICATION
    date_field = "valid_until"
    fields = (
        "pk",
        "kind",
        "subject",
        "number",
        "product_reference",
        "valid_until",
        "practitioner_id",
        "practitioner__name",
        "practitioner__user_id",
        "practitioner__main_institution_id",
        "practitioner__main_institution__name",
        "practitioner__main_institution__organization_id",
    )
    kind_label = staticmethod(_label(QualificationKind.choices))
    subject_label = staticmethod(_label(Subject.choices))

    def base(self) -> QuerySet[Any]:
        # A newer credential of the same kind (a renewal entered as a new row) supersedes the old one.
        newer = Qualification.objects.filter(
            practitioner_id=OuterRef("practitioner_id"),
            kind=OuterRef("kind"),
            subject=OuterRef("subject"),
            product_reference=OuterRef("product_reference"),
            valid_until__gt=OuterRef("valid_until"),
        ).exclude(verification_status=VerificationStatus.REJECTED)
        return (
            Qualification.objects.filter(valid_until__isnull=False)
            .exclude(verification_status=VerificationStatus.REJECTED)
            .exclude(practitioner__status=PractitionerStatus.LEFT)
            .exclude(Exists(newer))
        )

    def narrow(self, qs: QuerySet[Any], institution_id: int | None, practitioner_id: int | None) -> Any:
        if practitioner_id is not None:
            qs = qs.filter(practitioner_id=practitioner_id)
        if institution_id is not None:
            qs = qs.filter(
                Q(practitioner__main_institution_id=institution_id)
                | Q(
                    practitioner_id__in=PractitionerSite.objects.filter(institution_id=institution_id).values(
                        "practitioner_id"
                    )
                )
            )
        return qs

    def item(self, row: Row, on: dt.date) -> ExpiringItem:
        label = self.kind_label(row["kind"])
        if row["subject"]:
            label += "·" + self.subject_label(row["subject"])
        extra = " ".join(x for x in (row["product_reference"], row["number"]) if x)
        return self._item(
            row,
            on,
            label=f"{label} {extra}".strip(),
            holder=row["practitioner__name"],
            url=reverse("registry:practitioner_detail", args=[row["practitioner_id"]]),
            institution_id=row["practitioner__main_institution_id"],
            institution_name=row["practitioner__main_institution__name"],
            practitioner_id=row["practitioner_id"],
            organization_id=row["practitioner__main_institution__organization_id"],
        )

    def recipients(self, row: Row) -> list[int]:
        holder = [row["practitioner__user_id"]] if row["practitioner__user_id"] else []
        return holder + compliance_staff(row["practitioner__main_institution__organization_id"])


class PractitionerSiteSource(Source):
    kind = ItemKind.PRACTITIONER_SITE
    date_field = "valid_until"
    fields = (
        "pk",
        "valid_until",
        "practitioner_id",
        "practitioner__name",
        "practitioner__user_id",
        "practitioner__main_institution__organization_id",
        "institution_id",
        "institution__name",
        "institution__organization_id",
    )

    def base(self) -> QuerySet[Any]:
        return PractitionerSite.objects.filter(valid_until__isnull=False).exclude(
            practitioner__status=PractitionerStatus.LEFT
        )

    def narrow(self, qs: QuerySet[Any], institution_id: int | None, practitioner_id: int | None) -> Any:
        if practitioner_id is not None:
            qs = qs.filter(practitioner_id=practitioner_id)
        if institution_id is not None:
            qs = qs.filter(
                Q(institution_id=institution_id) | Q(practitioner__main_institution_id=institution_id)
            )
        return qs

    def item(self, row: Row, on: dt.date) -> ExpiringItem:
        return self._item(
            row,
            on,
            label=_("多点执业 · %(institution)s") % {"institution": row["institution__name"]},
            holder=row["practitioner__name"],
            url=reverse("registry:practitioner_detail", args=[row["practitioner_id"]]),
            institution_id=row["institution_id"],
            institution_name=row["institution__name"],
            practitioner_id=row["practitioner_id"],
            organization_id=row["institution__organization_id"],
        )

    def recipients(self, row: Row) -> list[int]:
        holder = [row["practitioner__user_id"]] if row["practitioner__user_id"] else []
        host = compliance_staff(row["institution__organization_id"])
        return holder + host + compliance_staff(row["practitioner__main_institution__organization_id"])


class SharedSource(Source):
    """Supplier-side reference data: read by everyone, but shown only where it concerns the actor."""

    supplier_path: str  # lookup from the row to the Supplier ("" for Supplier itself)

    def concerns(self, actor: Actor) -> Q:
        raise NotImplementedError

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        qs = super().scoped(actor)
        if actor.is_unrestricted:
            return qs
        return qs.filter(self.concerns(actor))

    def own_supplier(self, actor: Actor) -> Q:
        prefix = f"{self.supplier_path}__" if self.supplier_path else ""
        return Q(**{f"{prefix}organization_id__in": list(actor.member_org_ids)})

    def narrow(self, qs: QuerySet[Any], institution_id: int | None, practitioner_id: int | None) -> Any:
        return None if (institution_id is not None or practitioner_id is not None) else qs


class SupplierLicence(SharedSource):
    kind = ItemKind.SUPPLIER_LICENCE
    date_field = "business_licence_valid_until"
    supplier_path = ""
    fields = ("pk", "name", "business_licence_no", "business_licence_valid_until", "organization_id")

    def base(self) -> QuerySet[Any]:
        return Supplier.objects.filter(is_active=True, business_licence_valid_until__isnull=False)

    def concerns(self, actor: Actor) -> Q:
        lots, devices = _held_product_ids(actor.readable_org_ids)
        held = Product.objects.filter(Q(pk__in=lots) | Q(pk__in=devices)).values("supplier_id")
        return self.own_supplier(actor) | Q(pk__in=held)

    def item(self, row: Row, on: dt.date) -> ExpiringItem:
        return self._item(
            row,
            on,
            label=_("营业执照 %(no)s") % {"no": row["business_licence_no"]},
            holder=row["name"],
            url="",
            organization_id=row["organization_id"],
        )

    def recipients(self, row: Row) -> list[int]:
        return users_with_roles(row["organization_id"], [Role.SUPPLIER_ADMIN])


class DistributionAuthorizationSource(SharedSource):
    kind = ItemKind.DISTRIBUTION_AUTHORIZATION
    date_field = "valid_until"
    supplier_path = "supplier"
    fields = (
        "pk",
        "brand",
        "registrant",
        "valid_until",
        "supplier_id",
        "supplier__name",
        "supplier__organization_id",
    )

    def base(self) -> QuerySet[Any]:
        newer = DistributionAuthorization.objects.filter(
            supplier_id=OuterRef("supplier_id"),
            brand=OuterRef("brand"),
            valid_until__gt=OuterRef("valid_until"),
        )
        return DistributionAuthorization.objects.filter(supplier__is_active=True).exclude(Exists(newer))

    def concerns(self, actor: Actor) -> Q:
        lots, devices = _held_product_ids(actor.readable_org_ids)
        held = Product.objects.filter(
            Q(pk__in=lots) | Q(pk__in=devices),
            supplier_id=OuterRef("supplier_id"),
            brand_name=OuterRef("brand"),
        )
        return self.own_supplier(actor) | Q(Exists(held))

    def item(self, row: Row, on: dt.date) -> ExpiringItem:
        return self._item(
            row,
            on,
            label=_("%(brand)s 经销授权(%(registrant)s)")
            % {"brand": row["brand"], "registrant": row["registrant"]},
            holder=row["supplier__name"],
            url=reverse("registry:product_list") + "?q=" + row["brand"],
            organization_id=row["supplier__organization_id"],
        )

    def recipients(self, row: Row) -> list[int]:
        admins = users_with_roles(row["supplier__organization_id"], [Role.SUPPLIER_ADMIN])
        return admins + _holding_institutions_staff(
            Q(supplier_id=row["supplier_id"], brand_name=row["brand"])
        )


class ProductRegistration(SharedSource):
    kind = ItemKind.PRODUCT_REGISTRATION
    date_field = "registration_valid_until"
    supplier_path = "supplier"
    fields = (
        "pk",
        "generic_name",
        "brand_name",
        "registration_no",
        "registration_valid_until",
        "supplier__name",
        "supplier__organization_id",
    )

    def base(self) -> QuerySet[Any]:
        return Product.objects.all()

    def concerns(self, actor: Actor) -> Q:
        lots, devices = _held_product_ids(actor.readable_org_ids)
        return self.own_supplier(actor) | Q(pk__in=lots) | Q(pk__in=devices)

    def item(self, row: Row, on: dt.date) -> ExpiringItem:
        name = row["brand_name"] or row["generic_name"]
        return self._item(
            row,
            on,
            label=_("%(name)s 注册证 %(no)s") % {"name": name, "no": row["registration_no"]},
            holder=row["supplier__name"],
            url=reverse("registry:product_detail", args=[row["pk"]]),
            organization_id=row["supplier__organization_id"],
        )

    def recipients(self, row: Row) -> list[int]:
        admins = users_with_roles(row["supplier__organization_id"], [Role.SUPPLIER_ADMIN])
        return admins + _holding_institutions_staff(Q(pk=row["pk"]))


class AuthorizationSource(Source):
    kind = ItemKind.AUTHORIZATION
    date_field = "valid_until"
    fields = (
        "pk",
        "kind",
        "procedure_code",
        "procedure_category",
        "subject",
        "product_brand",
        "device_model",
        "technology_name",
        "valid_until",
        "institution_id",
        "institution__name",
        "institution__organization_id",
        "practitioner_id",
        "practitioner__name",
        "practitioner__user_id",
        "grantee_institution_id",
        "grantee_institution__name",
        "grantee_institution__organization_id",
    )
    kind_label = staticmethod(_label(AuthorizationKind.choices))
    subject_label = staticmethod(_label(Subject.choices))

    def base(self) -> QuerySet[Any]:
        # An active renewal takes over: the old term ending is no longer news.
        renewed = Authorization.objects.filter(renews_id=OuterRef("pk"), status=AuthorizationStatus.ACTIVE)
        return Authorization.objects.filter(
            status=AuthorizationStatus.ACTIVE, valid_until__isnull=False
        ).exclude(Exists(renewed))

    def narrow(self, qs: QuerySet[Any], institution_id: int | None, practitioner_id: int | None) -> Any:
        if practitioner_id is not None:
            qs = qs.filter(practitioner_id=practitioner_id)
        if institution_id is not None:
            qs = qs.filter(Q(institution_id=institution_id) | Q(grantee_institution_id=institution_id))
        return qs

    def describe(self, row: Row) -> tuple[str, str]:
        """(what, whose) of an authorization row, for lists and notices."""
        subject = self.subject_label(row["subject"]) if row["subject"] else ""
        target = (
            procedure_name(row["procedure_code"])
            or row["procedure_category"]
            or subject
            or row["product_brand"]
            or row["device_model"]
            or row["technology_name"]
        )
        holder = row["practitioner__name"] or row["grantee_institution__name"] or row["institution__name"]
        return f"#{row['pk']} {self.kind_label(row['kind'])} · {target}", holder

    def item(self, row: Row, on: dt.date) -> ExpiringItem:
        label, holder = self.describe(row)
        return self._item(
            row,
            on,
            label=label,
            holder=holder,
            url=reverse("authz:authorization_detail", args=[row["pk"]]),
            institution_id=row["institution_id"],
            institution_name=row["institution__name"],
            practitioner_id=row["practitioner_id"],
            organization_id=row["institution__organization_id"],
        )

    def recipients(self, row: Row) -> list[int]:
        return authorization_recipients(
            practitioner_user_id=row["practitioner__user_id"],
            organization_id=row["institution__organization_id"],
            grantee_organization_id=row["grantee_institution__organization_id"],
        )


def authorization_recipients(
    *, practitioner_user_id: int | None, organization_id: int | None, grantee_organization_id: int | None
) -> list[int]:
    """The person authorized, and the compliance staff of the granting (and, for technology, grantee) institution."""
    out = [practitioner_user_id] if practitioner_user_id else []
    out += compliance_staff(organization_id)
    if grantee_organization_id and grantee_organization_id != organization_id:
        out += compliance_staff(grantee_organization_id)
    return out


class LotSource(Source):
    kind = ItemKind.LOT
    date_field = "expiry_date"
    fields = (
        "pk",
        "lot_no",
        "expiry_date",
        "product__brand_name",
        "product__generic_name",
        "institution_id",
        "institution__name",
        "institution__organization_id",
    )

    def base(self) -> QuerySet[Any]:
        return Lot.objects.filter(status__in=HELD_LOT_STATUSES)

    def item(self, row: Row, on: dt.date) -> ExpiringItem:
        name = row["product__brand_name"] or row["product__generic_name"]
        return self._item(
            row,
            on,
            label=f"{name} {row['lot_no']}",
            holder=row["institution__name"],
            url=reverse("registry:lot_detail", args=[row["pk"]]),
            institution_id=row["institution_id"],
            institution_name=row["institution__name"],
            organization_id=row["institution__organization_id"],
        )

    def recipients(self, row: Row) -> list[int]:
        return compliance_staff(row["institution__organization_id"])


AUTHORIZATIONS = AuthorizationSource()
SOURCES: dict[str, Source] = {
    s.kind: s
    for s in (
        InstitutionLicence(),
        QualificationSource(),
        PractitionerSiteSource(),
        SupplierLicence(),
        DistributionAuthorizationSource(),
        ProductRegistration(),
        AUTHORIZATIONS,
        LotSource(),
    )
}


def expiring(
    actor: Actor,
    *,
    on: dt.date,
    within_days: int = 90,
    practitioner_id: int | None = None,
    institution_id: int | None = None,
) -> list[ExpiringItem]:
    """Everything the actor can see that expires in [on, on + within_days], soonest first (one query per kind)."""
    within_days = max(0, min(int(within_days), MAX_WITHIN_DAYS))
    until = on + dt.timedelta(days=within_days)
    items: list[ExpiringItem] = []
    for source in SOURCES.values():
        qs = source.narrow(source.scoped(actor), institution_id, practitioner_id)
        if qs is None:
            continue
        qs = qs.filter(**{f"{source.date_field}__gte": on, f"{source.date_field}__lte": until})
        items.extend(source.item(row, on) for row in source.rows(qs))
    items.sort(key=lambda i: (i.expires_on, i.kind, i.label, i.object_id))
    return items


def filter_items(
    items: Iterable[ExpiringItem], *, kind: str = "", bucket: int | None = None
) -> list[ExpiringItem]:
    return [i for i in items if (not kind or i.kind == kind) and (bucket is None or i.bucket == bucket)]


def reminders_sent(actor: Actor, items: Iterable[ExpiringItem]) -> dict[tuple[str, int, dt.date], list[int]]:
    """For each item, the thresholds already reminded for its current expiry date (one query)."""
    items = list(items)
    if not items:
        return {}
    keys = {i.key for i in items}
    low = min(i.expires_on for i in items)
    high = max(i.expires_on for i in items)
    out: dict[tuple[str, int, dt.date], list[int]] = {}
    rows = (
        Reminder.objects.visible_to(actor)
        .filter(expires_on__gte=low, expires_on__lte=high)
        .values_list("item_kind", "object_id", "expires_on", "threshold")
    )
    for kind, object_id, expires_on, threshold in rows:
        key = (kind, object_id, expires_on)
        if key in keys:
            out.setdefault(key, []).append(threshold)
    return {k: sorted(v, reverse=True) for k, v in out.items()}


def recent_runs(limit: int = 20) -> list[JobRun]:
    return list(JobRun.objects.order_by("-run_date", "-pk")[:limit])


def kind_choices() -> list[tuple[str, str]]:
    return [(str(v), str(label)) for v, label in ItemKind.choices]
