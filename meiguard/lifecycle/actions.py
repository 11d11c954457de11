"""Every state change of lifecycle: reminders (once each), expiries, and the record of scheduled runs.

The bodies here are plain functions taking dates; ``tasks.py`` wraps them as django-tasks jobs taking ISO dates
and ids, and ``run_scheduler`` enqueues them once a day. Each is idempotent: a second run for the same date
finds the ledger rows and the expired statuses of the first and does nothing new.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.authz import actions as authz_actions
from meiguard.authz.models import Authorization
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import Role
from meiguard.core.errors import ActionError
from meiguard.rules.institution import (
    DEFAULT_REMINDER_DAYS,
    MAX_REMINDER_DAYS,
    reminder_days,
    reminder_days_in_force,
)

from . import notices
from .choices import EXPIRED_NOTICE, ItemKind, Job, JobStatus, bucket_for
from .models import JobRun, Reminder
from .queries import SOURCES, ExpiringItem, Row, Source, expiring

SCHEDULER = Actor.system("scheduler")
Counts = dict[str, int]


# ---- reminders -------------------------------------------------------------------------------------


def _deliver(source: Source, row: Row, item: ExpiringItem, threshold: int, on: dt.date) -> int:
    """Record the reminder in the ledger and notify; the unique constraint lets exactly one caller through."""
    recipients = sorted(set(source.recipients(row)))
    with transaction.atomic():
        ledger = Reminder(
            item_kind=item.kind,
            object_id=item.object_id,
            expires_on=item.expires_on,
            threshold=threshold,
            organization_id=item.organization_id,
            label=item.label[:200],
            recipient_ids=recipients,
            sent_on=on,
        )
        try:
            with transaction.atomic():
                ledger.save(force_insert=True)
        except IntegrityError:
            return 0  # already sent, by an earlier run or a concurrent worker
        created = notices.send_reminder_notice(item, threshold, recipients)
        audit.record(
            SCHEDULER,
            "lifecycle.reminder.sent",
            ledger,
            before={},
            reason=f"T-{threshold}" if threshold != EXPIRED_NOTICE else "expired",
        )
    return len(created)


def deliver_reminder(kind: str, object_id: int, threshold: int, expires_on: dt.date, *, on: dt.date) -> int:
    """Send the ``threshold`` reminder for one item's ``expires_on``, once. Returns notifications created.

    Nothing is sent when the item no longer qualifies (used up, left, superseded, renewed to another date) or
    when the reminder no longer fits the date (a stale task): the next scan decides afresh.
    """
    source = SOURCES.get(kind)
    if source is None:
        raise ValueError(f"unknown item kind {kind!r}")
    if not 0 <= threshold <= MAX_REMINDER_DAYS:
        raise ValueError(f"unknown threshold {threshold!r}")
    row = source.load(object_id)
    if row is None:
        return 0
    item = source.item(row, on)
    if item.expires_on != expires_on:
        return 0
    if threshold == EXPIRED_NOTICE:
        if item.days_left >= 0:
            return 0
    elif (
        item.days_left < 0
        or bucket_for(item.days_left, reminder_days_of(item.institution_id, on)) != threshold
    ):
        return 0
    return _deliver(source, row, item, threshold, on)


def reminder_days_of(institution_id: int | None, on: dt.date) -> tuple[int, ...]:
    """The reminder days of one institution's policy in force on ``on`` (the default for suppliers)."""
    if institution_id is None:
        return DEFAULT_REMINDER_DAYS
    from meiguard.registry.models import Institution
    from meiguard.rules import services

    province = Institution.objects.filter(pk=institution_id).values_list("province", flat=True).first()
    if province is None:
        return DEFAULT_REMINDER_DAYS
    try:
        pack = services.resolve(services.normalize_province(province), on, institution_id)
    except services.NoActivePack:
        return DEFAULT_REMINDER_DAYS
    return reminder_days(pack)


def scan_expiries(on: dt.date, *, inline: bool = False) -> Counts:
    """Find the reminders due on ``on`` and enqueue one ``send_reminder`` each (or send them now, ``inline``).

    Due means: the item expires within the institution's reminder days (its policy's
    ``expiry_reminder_days``, by default 90/60/30/7) and the reminder for its bucket (the smallest of those days
    at or above the days left) is not in the ledger yet. After missed days only that one is sent, not every
    missed one.
    """
    from . import tasks

    by_institution, default = reminder_days_in_force(on)
    window = max([*default, *(max(days) for days in by_institution.values())])
    items = expiring(SCHEDULER, on=on, within_days=window)
    sent = set(
        Reminder.objects.filter(
            expires_on__gte=on, expires_on__lte=on + dt.timedelta(days=window)
        ).values_list("item_kind", "object_id", "expires_on", "threshold")
    )
    due: list[tuple[ExpiringItem, int]] = []
    for i in items:
        days = (
            by_institution.get(i.institution_id, default)
            if i.institution_id is not None
            else DEFAULT_REMINDER_DAYS
        )
        bucket = bucket_for(i.days_left, days)
        if bucket is not None and (i.kind, i.object_id, i.expires_on, bucket) not in sent:
            due.append((i, bucket))
    notified = 0
    for item, bucket in due:
        if inline:
            notified += deliver_reminder(item.kind, item.object_id, bucket, item.expires_on, on=on)
        else:
            transaction.on_commit(
                partial(
                    tasks.send_reminder.enqueue,
                    item.kind,
                    item.object_id,
                    bucket,
                    item.expires_on.isoformat(),
                    on.isoformat(),
                )
            )
    counts = {"expiring": len(items), "due": len(due), "already_sent": len(items) - len(due)}
    if inline:
        counts["notified"] = notified
    return counts


def flag_expired_lots(on: dt.date) -> Counts:
    """Lots still held (available or quarantined) past their expiry date: tell the institution once per lot;
    and open recalls past their clock: remind the institution's compliance officers once per notice.

    The lot's status is left alone: the engine already refuses an expired lot (LOT_EXPIRED) whatever its status.
    """
    source = SOURCES[ItemKind.LOT]
    qs = source.base().filter(expiry_date__lt=on)
    done = set(
        Reminder.objects.filter(
            item_kind=ItemKind.LOT, threshold=EXPIRED_NOTICE, object_id__in=qs.values("pk")
        ).values_list("object_id", "expires_on")
    )
    rows = [r for r in source.rows(qs) if (r["pk"], r["expiry_date"]) not in done]
    notified = sum(_deliver(source, r, source.item(r, on), EXPIRED_NOTICE, on) for r in rows)
    # The same daily lot job reminds of recalls past their 1 / 3 / 7-day clock (DD-09), once per notice.
    from meiguard.inventory.recall import remind_overdue

    return {"expired_lots": len(rows), "notified": notified, **remind_overdue(on)}


def expire_authorizations(on: dt.date) -> Counts:
    """Active authorizations whose term ended before ``on`` become expired; their people are told.

    ``authz.actions.expire_due`` is idempotent, and the notice is sent once per transition.
    """
    with transaction.atomic():
        ids = authz_actions.expire_due(SCHEDULER, on=on)
        for auth in Authorization.objects.filter(pk__in=ids):
            notices.authorization_status_changed(auth, "expire", auth.status_reason)
    return {"expired": len(ids)}


def announce_rule_versions(on: dt.date) -> Counts:
    """Rule-pack versions that took effect recently: compliance officers of affected institutions are told
    once each (``rules.impact.notify_versions_taking_effect`` is idempotent and catches up 7 days)."""
    from meiguard.rules.impact import notify_versions_taking_effect

    return {"notified": notify_versions_taking_effect(on)}


def remind_waiting_approvals(on: dt.date) -> Counts:
    """Approval steps open for 3 / 7 / 14 days: approvers chased once per threshold, admins from day 7."""
    from meiguard.workflow.actions import remind_waiting_steps

    return {"notified": remind_waiting_steps(on)}


def audit_checkpoint(on: dt.date) -> Counts:
    """Append signed audit chain heads to ``AUDIT_CHECKPOINT_DIR`` (outside the database; ADR 0008)."""
    from django.conf import settings

    from meiguard.audit import checkpoints

    if not getattr(settings, "AUDIT_CHECKPOINT_DIR", ""):
        return {"not_configured": 1}  # `check --deploy` warns (meiguard.W101)
    return {"chains": checkpoints.append_to(checkpoints.daily_path(on))}


def remind_due_checklists(on: dt.date) -> Counts:
    """Surgical checklist nodes due and not done: the OR staff and compliance officer told once per case and
    node (``clinical.actions.remind_due_checklists``). Run for a past date it looks at the end of that day;
    for today, at this moment. ``manage.py remind_checklists`` runs the same every few minutes from cron."""
    from meiguard.clinical.actions import remind_due_checklists as remind

    now = timezone.now()
    end_of_day = timezone.make_aware(dt.datetime.combine(on + dt.timedelta(days=1), dt.time.min))
    return {"notified": remind(min(now, end_of_day))}


def remind_device_upkeep(on: dt.date) -> Counts:
    """Device inspections and calibrations due within 7 days or overdue: the institution's device keepers told
    once per device, check and due date (``equipment.actions.remind_due_devices``)."""
    from meiguard.equipment.actions import remind_due_devices

    return {"notified": remind_due_devices(on)}


def aftercare_clocks(on: dt.date) -> Counts:
    """Follow-ups missed / lost / due and adverse-reaction clocks (``aftercare.actions.run_clocks``), each
    notice once. Run for a past date it looks at the end of that day; for today, at this moment.
    ``manage.py aftercare_tick`` runs the same every few minutes from cron (the 2-hour clocks need it).
    The complaint clocks (``complaints.actions.tick``, docs/complaints.md) run in the same job; their counts
    are appended (``manage.py complaints_tick`` from cron for the same more often)."""
    from meiguard.aftercare.actions import run_clocks
    from meiguard.complaints.actions import tick as complaint_clocks

    now = timezone.now()
    end_of_day = timezone.make_aware(dt.datetime.combine(on + dt.timedelta(days=1), dt.time.min))
    at = min(now, end_of_day)
    counts = run_clocks(at)
    counts.update(complaint_clocks(at))
    return counts


def reconcile_high_risk(on: dt.date) -> Counts:
    """The daily reconciliation of high-risk drugs (DD-01, PR-09) for the day before ``on`` (a finished day):
    usage in cases against issue movements per institution and product; each discrepancy raises one alert and
    tells the compliance officers once (``inventory.highrisk.reconcile``)."""
    from meiguard.inventory.highrisk import reconcile

    return reconcile(on - dt.timedelta(days=1))


def monthly_compliance_report(on: dt.date) -> Counts:
    """On the 1st only: the previous month's compliance report for every institution that has none yet (once per
    institution-month; ``compliance.actions.generate_monthly``). Other days it does nothing."""
    from meiguard.compliance.actions import generate_monthly

    return generate_monthly(on)


JOB_BODIES: dict[str, Callable[[dt.date], Counts]] = {
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
DAILY_JOBS: tuple[str, ...] = tuple(Job.values)


# ---- the record of runs ----------------------------------------------------------------------------


def _new_run(job: str, on: dt.date, *, status: str, forced: bool) -> JobRun | None:
    """A new attempt for (job, date); None if a concurrent caller took the same attempt number."""
    last = JobRun.objects.filter(job=job, run_date=on).aggregate(n=Max("attempt"))["n"] or 0
    run = JobRun(job=job, run_date=on, attempt=last + 1, status=status, forced=forced)
    if status == JobStatus.RUNNING:
        run.started_at = timezone.now()
    try:
        with transaction.atomic():
            run.save(force_insert=True)
    except IntegrityError:
        return None
    return run


def _start(job: str, on: dt.date, run_id: int | None) -> JobRun | None:
    if run_id is None:  # called directly, not through the scheduler: record it as its own attempt
        for _attempt in range(3):
            run = _new_run(job, on, status=JobStatus.RUNNING, forced=True)
            if run is not None:
                return run
        return None
    # Do-once: only a queued run can start; a second delivery of the same task finds it running or done.
    started = JobRun.objects.filter(pk=run_id, job=job, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    return JobRun.objects.get(pk=run_id) if started == 1 else None


def _finish(run: JobRun, status: str, *, counts: Counts | None = None, error: str = "") -> None:
    with transaction.atomic():
        before = audit.snapshot(run)
        run.status = status
        run.finished_at = timezone.now()
        run.counts = counts or {}
        run.error = error[-4000:]
        run.save(update_fields=["status", "finished_at", "counts", "error"])
        code = "lifecycle.jobrun.finished" if status == JobStatus.SUCCEEDED else "lifecycle.jobrun.failed"
        audit.record(SCHEDULER, code, run, before=before)


def run_job(job: str, on_iso: str, run_id: int | None = None) -> Counts:
    """Run one daily job for a date, recorded in JobRun; a failure is recorded and re-raised."""
    body = JOB_BODIES[job]
    on = dt.date.fromisoformat(on_iso)
    run = _start(job, on, run_id)
    if run is None:
        return {"skipped": 1}
    try:
        counts = body(on)
    except Exception:
        _finish(run, JobStatus.FAILED, error=traceback.format_exc())
        raise
    _finish(run, JobStatus.SUCCEEDED, counts=counts)
    return counts


@dataclass(frozen=True, slots=True)
class Planned:
    job: str
    run: JobRun | None  # the new run, or the one that made this a no-op
    enqueued: bool


def enqueue_daily(
    actor: Actor, *, on: dt.date, force: bool = False, jobs: Iterable[str] = DAILY_JOBS
) -> list[Planned]:
    """Enqueue the daily jobs for ``on``. A job already queued, running or done for that date is skipped
    unless ``force``; a failed one is tried again. The task is enqueued after the run row commits."""
    from . import tasks

    planned: list[Planned] = []
    for job in jobs:
        if job not in JOB_BODIES:
            raise ValueError(f"unknown job {job!r}")
        with transaction.atomic():
            last = JobRun.objects.filter(job=job, run_date=on).order_by("-attempt").first()
            if last is not None and last.status != JobStatus.FAILED and not force:
                planned.append(Planned(job, last, enqueued=False))
                continue
            run = _new_run(job, on, status=JobStatus.QUEUED, forced=force)
            if run is None:  # another scheduler enqueued it a moment ago
                planned.append(Planned(job, None, enqueued=False))
                continue
            audit.record(
                actor, "lifecycle.jobrun.enqueued", run, before={}, reason="--force" if force else ""
            )
            transaction.on_commit(partial(tasks.TASKS[job].enqueue, on.isoformat(), run.pk))
        planned.append(Planned(job, run, enqueued=True))
    return planned


# ---- chasing one item by hand (催办) -----------------------------------------------------------------

# Who may chase the holder of an item of their organisation (the same roles that answer for compliance).
CHASE_ROLES = frozenset({Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER, Role.MEDICAL_DIRECTOR})


@transaction.atomic
def chase(actor: Actor, kind: str, object_id: int, *, on: dt.date) -> int:
    """Notify the holder of one expiring item now (at most once a day per item); audited on the item.

    Unknown kind or an item the actor cannot see → ``NotFoundField("object_id")``; an item of an organisation
    where the actor answers for nothing → 403. Returns the notifications created (0: already chased today).
    """
    source = SOURCES.get(kind)
    if source is None:
        raise NotFoundField("object_id")
    obj = source.scoped(actor).filter(pk=object_id).first()
    found = source.rows(source.base().filter(pk=object_id)) if obj is not None else []
    if obj is None or not found:
        raise NotFoundField("object_id")
    item = source.item(found[0], on)
    if not actor.can_write_org(item.organization_id, CHASE_ROLES):
        raise ActionError("CHASE_FORBIDDEN", _("您不负责该事项所属机构的合规,不能催办"), status=403)
    recipients = sorted(set(source.recipients(found[0])))
    created = notices.send_chase_notice(item, recipients, on)
    if created:
        audit.record(
            actor,
            "lifecycle.reminder.chased",
            obj,
            changes={},
            reason=_("催办:%(kind)s「%(label)s」") % {"kind": item.kind_label, "label": item.label},
            organization_id=item.organization_id,
        )
    return len(created)
