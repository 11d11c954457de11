"""Complaints (投诉): intake with a tracking number, first-contact ownership, two clocks, the workflow and its
append-only timeline.

Who sees a complaint (``ComplaintQuerySet.visible_to`` — the one access check, also used by ``writable_by``):
the institution's 医务科, 授权专员 and admins see all of its complaints; its doctors and nurses only those they
took or were handed; the staff of the association the complaint was escalated to see that complaint — and
nothing else of the institution's complaints (an overseeing auditor's general read does not apply here: the
complainant's data is shown only to those handling it). Nothing is deleted (``PROTECT``).
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meiguard.core.access import Actor, TenantPolicy, TenantQuerySet
from meiguard.registry.crypto import EncryptedCharField, blind_index

from . import policy
from .choices import (
    ASSOCIATION_HANDLERS,
    COMPLAINT_OFFICERS,
    COMPLAINT_STAFF,
    COMPLAINT_TAKERS,
    OPEN_STATUSES,
    Category,
    Channel,
    EventKind,
    Status,
)


def visibility(actor: Actor, prefix: str = "") -> Q | None:
    """The complaints ``actor`` may see and act on, as a filter (``None``: everything; an empty match: none)."""
    if actor.is_unrestricted:
        return None
    if not actor.is_authenticated or actor.user_id is None:
        return Q(pk__in=[])
    officer_orgs = actor.org_ids_with_roles(COMPLAINT_OFFICERS)
    staff_orgs = actor.org_ids_with_roles(COMPLAINT_STAFF) - officer_orgs
    assoc_orgs = actor.org_ids_with_roles(ASSOCIATION_HANDLERS)
    q = Q(pk__in=[])
    if officer_orgs:
        q |= Q(**{f"{prefix}institution__organization_id__in": sorted(officer_orgs)})
    if staff_orgs:
        mine = Q(**{f"{prefix}owner_id": actor.user_id}) | Q(**{f"{prefix}received_by_id": actor.user_id})
        q |= Q(**{f"{prefix}institution__organization_id__in": sorted(staff_orgs)}) & mine
    if assoc_orgs:
        q |= Q(**{f"{prefix}escalated_to_id__in": sorted(assoc_orgs)})
    return q


class ComplaintQuerySet(TenantQuerySet):
    """``TenantQuerySet`` with the complaint rule above (the policy's paths are kept for the admin and the
    safety net; ``visible_to``/``writable_by`` apply ``visibility``)."""

    prefix = ""

    def visible_to(self, actor: Actor) -> ComplaintQuerySet:  # type: ignore[override]
        q = visibility(actor, self.prefix)
        return self.all() if q is None else self.filter(q)

    def writable_by(self, actor: Actor) -> ComplaintQuerySet:  # type: ignore[override]
        return self.visible_to(actor)


class EventQuerySet(ComplaintQuerySet):
    prefix = "complaint__"


def _policy(path: str) -> TenantPolicy:
    return TenantPolicy(read_paths=(path,), write_path=path, write_roles=COMPLAINT_TAKERS)


class Complaint(models.Model):
    institution = models.ForeignKey(
        "registry.Institution", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构")
    )
    tracking_no = models.CharField(_("投诉编号"), max_length=24, unique=True)
    channel = models.CharField(_("投诉渠道"), max_length=12, choices=Channel.choices)
    category = models.CharField(_("投诉类别"), max_length=12, choices=Category.choices)
    # Personal data of the complainant: encrypted at rest, masked in the audit log, never in notifications.
    complainant_name = EncryptedCharField(_("投诉人姓名"))
    complainant_contact = EncryptedCharField(_("投诉人联系方式"))
    # HMAC of the tracking number and the contact's last four digits (the public status lookup).
    contact_tail_index = models.CharField(max_length=64, blank=True, editable=False)
    description = models.TextField(_("投诉内容"))
    case = models.ForeignKey(
        "clinical.Case",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints",
        verbose_name=_("相关病例"),
    )
    practitioners = models.ManyToManyField(
        "registry.Practitioner", blank=True, related_name="+", verbose_name=_("涉及人员")
    )
    multi_department = models.BooleanField(_("涉及多个部门"), default=False)
    received_at = models.DateTimeField(_("受理时间"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("受理人"),
    )
    # First-contact responsibility: the person who took it, until an explicit handover.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("负责人"),
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    ack_due_at = models.DateTimeField(_("回应时限"))
    resolve_due_at = models.DateTimeField(_("处理时限"))
    acknowledged_at = models.DateTimeField(_("回应时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("处理完成时间"), null=True, blank=True)
    resolved_on_spot = models.BooleanField(_("当场处理"), default=False)
    resolution = models.TextField(_("处理结果"), blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        _("满意度(1–5)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    closing_note = models.TextField(_("结案说明"), blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    escalated_to = models.ForeignKey(
        "core.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("提交的协会"),
    )
    escalated_at = models.DateTimeField(_("提交协会时间"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    # Notices sent by the clock job (each once; the notification dedupe keys are the second guard).
    ack_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    ack_breached_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolve_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolve_breached_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ComplaintQuerySet.as_manager()
    tenancy = _policy("institution__organization")
    audit_masked_fields = ("complainant_name", "complainant_contact", "contact_tail_index")

    class Meta:
        verbose_name = _("投诉")
        verbose_name_plural = _("投诉")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="complaints_satisfaction_1_5",
            ),
        ]
        indexes = [
            models.Index(fields=["institution", "-received_at"], name="complaints_inst_received"),
            models.Index(fields=["status", "ack_due_at"], name="complaints_status_ack"),
            models.Index(fields=["status", "resolve_due_at"], name="complaints_status_resolve"),
            models.Index(fields=["escalated_to", "status"], name="complaints_escalated"),
        ]

    def __str__(self) -> str:
        return self.tracking_no

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def ack_state(self, at: dt.datetime) -> str:
        done = self.acknowledged_at or (self.withdrawn_at if self.status == Status.WITHDRAWN else None)
        return policy.sla_state(self.ack_due_at, done, at, policy.ACK_WARN_BEFORE)

    def resolve_state(self, at: dt.datetime) -> str:
        done = self.resolved_at or (self.withdrawn_at if self.status == Status.WITHDRAWN else None)
        return policy.sla_state(self.resolve_due_at, done, at, policy.RESOLVE_WARN_BEFORE)

    @staticmethod
    def tail_index(tracking_no: str, tail: str) -> str:
        return blind_index(f"complaint:{tracking_no}:{tail}")

    def contact_tail_matches(self, tail: str) -> bool:
        """The public status lookup's second factor: the last four digits of the complainant's phone."""
        if not self.contact_tail_index or len(tail) != 4 or not tail.isdigit():
            return False
        return hmac.compare_digest(self.contact_tail_index, self.tail_index(self.tracking_no, tail))

    def public_status(self) -> dict[str, Any]:
        """What a public status page may show: no name, contact, description, case or staff."""
        return {
            "tracking_no": self.tracking_no,
            "institution": self.institution.name,
            "category": self.category,
            "category_label": str(self.get_category_display()),
            "status": self.status,
            "status_label": str(self.get_status_display()),
            "received_on": timezone.localtime(self.received_at).date().isoformat()
            if self.received_at
            else None,
            "acknowledged": self.acknowledged_at is not None,
            "ack_due_at": self.ack_due_at,
            "resolve_due_at": self.resolve_due_at,
            "resolved_at": self.resolved_at,
            "escalated": self.escalated_at is not None,
            "closed_at": self.closed_at,
        }


class ComplaintEvent(models.Model):
    """One step of a complaint (the timeline): by a named person, at a time. Append-only."""

    complaint = models.ForeignKey(
        Complaint, on_delete=models.PROTECT, related_name="events", verbose_name=_("投诉")
    )
    kind = models.CharField(_("事项"), max_length=16, choices=EventKind.choices)
    at = models.DateTimeField(_("时间"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("经办人"),
    )
    by_label = models.CharField(_("经办人姓名"), max_length=150)
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("移交给"),
    )
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EventQuerySet.as_manager()
    tenancy = _policy("complaint__institution__organization")

    class Meta:
        verbose_name = _("投诉处理记录")
        verbose_name_plural = _("投诉处理记录")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["complaint", "at"], name="complaints_event_at")]

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("complaint events are append-only")
        super().save(*args, **kwargs)

    def audit_organization_id(self) -> int | None:
        return self.complaint.institution.organization_id
