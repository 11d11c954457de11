"""Background jobs (django-tasks). JSON arguments only: ISO dates and ids. Each is idempotent.

``run_scheduler`` enqueues the daily jobs; ``scan_expiries`` enqueues one ``send_reminder`` per reminder
due. Run the worker with ``manage.py db_worker``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django_tasks import task

from . import actions
from .choices import Job


@task()
def expire_authorizations(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Authorizations past their term become expired (the engine denies them) and their people are told."""
    return actions.run_job(Job.EXPIRE_AUTHORIZATIONS, on_iso, run_id)


@task()
def flag_expired_lots(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Lots still held past their expiry date: one notice per lot to the institution."""
    return actions.run_job(Job.FLAG_EXPIRED_LOTS, on_iso, run_id)


@task()
def scan_expiries(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Find the reminders due on the date and enqueue ``send_reminder`` for each."""
    return actions.run_job(Job.SCAN_EXPIRIES, on_iso, run_id)


@task()
def announce_rule_versions(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Tell compliance officers of the institutions a newly effective rule-pack version changes decisions for."""
    return actions.run_job(Job.ANNOUNCE_RULE_VERSIONS, on_iso, run_id)


@task()
def remind_waiting_approvals(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Chase approvers of application steps left open for 3 / 7 / 14 days (admins told from day 7)."""
    return actions.run_job(Job.REMIND_WAITING_APPROVALS, on_iso, run_id)


@task()
def audit_checkpoint(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Append signed audit chain heads to AUDIT_CHECKPOINT_DIR (a file outside the database)."""
    return actions.run_job(Job.AUDIT_CHECKPOINT, on_iso, run_id)


@task()
def remind_due_checklists(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Tell OR staff and the compliance officer about surgical checklist nodes due and not done (once each)."""
    return actions.run_job(Job.REMIND_DUE_CHECKLISTS, on_iso, run_id)


@task()
def remind_device_upkeep(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Tell device keepers about inspections and calibrations due soon or overdue (once each)."""
    return actions.run_job(Job.REMIND_DEVICE_UPKEEP, on_iso, run_id)


@task()
def aftercare_clocks(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Missed / lost / due follow-ups and adverse-reaction clocks (once each)."""
    return actions.run_job(Job.AFTERCARE_CLOCKS, on_iso, run_id)


@task()
def reconcile_high_risk(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """Reconcile high-risk drugs for the previous day; discrepancies alerted once per day and product."""
    return actions.run_job(Job.RECONCILE_HIGH_RISK, on_iso, run_id)


@task()
def monthly_compliance_report(on_iso: str, run_id: int | None = None) -> dict[str, int]:
    """On the 1st: the previous month's compliance report for each institution (once per institution-month)."""
    return actions.run_job(Job.MONTHLY_COMPLIANCE_REPORT, on_iso, run_id)


@task()
def send_reminder(
    kind: str, object_id: int, threshold: int, expires_on_iso: str, on_iso: str | None = None
) -> int:
    """Send one reminder once (the ledger's unique constraint decides); returns notifications created."""
    on = dt.date.fromisoformat(on_iso) if on_iso else None
    return actions.deliver_reminder(
        kind, object_id, threshold, dt.date.fromisoformat(expires_on_iso), on=on or timezone.localdate()
    )


TASKS: dict[str, Any] = {
    Job.EXPIRE_AUTHORIZATIONS: expire_authorizations,
    Job.FLAG_EXPIRED_LOTS: flag_expired_lots,
    Job.SCAN_EXPIRIES: scan_expiries,
    Job.ANNOUNCE_RULE_VERSIONS: announce_rule_versions,
    Job.REMIND_WAITING_APPROVALS: remind_waiting_approvals,
    Job.AUDIT_CHECKPOINT: audit_checkpoint,
    Job.REMIND_DUE_CHECKLISTS: remind_due_checklists,
    Job.REMIND_DEVICE_UPKEEP: remind_device_upkeep,
    Job.AFTERCARE_CLOCKS: aftercare_clocks,
    Job.RECONCILE_HIGH_RISK: reconcile_high_risk,
    Job.MONTHLY_COMPLIANCE_REPORT: monthly_compliance_report,
}
