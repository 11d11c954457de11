"""Test data for the dashboard panels, on top of the authz ``clinic``; set-up goes through each app's actions
where one exists (workflow submissions are built directly: only the open step matters here)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from meiguard.authz import actions as authz_actions
from meiguard.authz.models import DecisionLog
from meiguard.authz.tests.conftest import PAST, SYSTEM, authorize
from meiguard.registry import actions as reg

HTMX = {"HTTP_HX_REQUEST": "true"}
_n = itertools.count(1)


def today() -> dt.date:
    return timezone.localdate()


def decide(
    clinic: Any, *, at: dt.datetime, deny: bool = False, who: str = "li", yi: bool = False
) -> DecisionLog:
    """One logged check at ``at``; ``deny`` asks for a procedure 李医生 holds no authorization for."""
    changes: dict[str, Any] = {"at": at}
    if deny:
        changes.update(procedure_code="derm-filler-injection", products=(), device_ids=())
    if yi:
        changes.update(
            institution_id=clinic.yi.pk, practitioner_id=clinic.sun_doctor.pk, products=(), device_ids=()
        )
    actor = clinic.world.actor(who)
    return authz_actions.check(actor, clinic.request(**changes), channel="ui").log


def expiring_lot(clinic: Any, days: int, *, yi: bool = False, lot_no: str | None = None) -> Any:
    return reg.create_lot(
        SYSTEM,
        institution_id=(clinic.yi if yi else clinic.jia).pk,
        product_id=clinic.toxin.pk,
        lot_no=lot_no or f"EXP{next(_n):04d}",
        expiry_date=today() + dt.timedelta(days=days),
        unit="piece",
    )


def expiring_training(clinic: Any, days: int, *, brand: str = "润百颜") -> Any:
    return reg.create_qualification(
        SYSTEM,
        practitioner_id=clinic.li.pk,
        kind="training_certificate",
        product_reference=brand,
        issuer="厂家",
        number=f"T-{brand}-{next(_n)}",
        valid_from=PAST,
        valid_until=today() + dt.timedelta(days=days),
    )


def expiring_authorization(clinic: Any, days: int) -> Any:
    return authorize(
        clinic.jia, clinic.li, "device", device_model="超声炮", valid_until=today() + dt.timedelta(days=days)
    )


def cme(
    clinic: Any, credits: str, credit_class: str, *, year: int | None = None, verified: bool = True
) -> Any:
    q = reg.create_qualification(
        SYSTEM,
        practitioner_id=clinic.li.pk,
        kind="cme_credits",
        credits=Decimal(credits),
        credit_class=credit_class,
        year=year or today().year,
        issuer="湖南省医学会",
    )
    if verified:
        reg.verify_qualification(SYSTEM, q.pk, status="verified", note="证书核对")
    return q


def pending_step(clinic: Any, *, stage: str = "compliance_officer", yi: bool = False) -> Any:
    """An application in review with its open step (what ``workflow.queries.pending_for`` lists)."""
    from meiguard.workflow.models import Application, ApprovalStep

    world = clinic.world
    app = Application.objects.create(
        institution=clinic.yi if yi else clinic.jia,
        practitioner=clinic.sun_doctor if yi else clinic.li,
        applicant=world.users["sun" if yi else "wang"],
        kind="qualification",
        procedure_code="derm-filler-injection",
        valid_from=today(),
        status="in_review",
        round=1,
        submitted_at=timezone.now(),
    )
    return ApprovalStep.objects.create(
        application=app, round=1, order=1, stage=stage, status="open", opened_at=timezone.now(), pool_size=1
    )


def overdue_campaign(clinic: Any, *, findings: int = 1, period: str = "2025-Q1") -> Any:
    """An association review of 甲 for a long-past quarter, still open, with open findings."""
    from meiguard.reviews import actions as reviews

    qian = clinic.world.actor("qian")
    campaign = reviews.create_campaign(qian, institution_id=clinic.jia.pk, period=period, build=False)
    for i in range(findings):
        reviews.raise_finding(qian, campaign.pk, description=f"授权档案缺少签字 {i}")
    return campaign
