"""Every state change of aftercare. Each is atomic, tenancy-checked and audited in the same transaction.

- ``plan_on_close`` (the clinical close hook): the follow-up plan of a closed case.
- ``record_follow_up``: a contact reached (outcome) or not (a missed attempt → retry, then lost).
- ``report_reaction`` / ``record_step``: a graded adverse reaction and the steps that stop its clock.
- ``run_clocks``: the clock job (missed and lost follow-ups, due notices, reaction escalations, and the
  incidents' report clocks through ``incidents.tick_reports``), each notice once (notification dedupe keys), in a fixed number of queries whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.clinical.actions import signer
from meiguard.clinical.models import Case, OperationRecord, Usage
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.schemas import control_character_error, is_multiline
from meiguard.notify.messages import each_language, label
from meiguard.notify.models import NotificationKind
from meiguard.notify.recipients import officers as _officers
from meiguard.notify.recipients import roles_by_org as _roles_by_org
from meiguard.notify.services import Message, send_many
from meiguard.registry.models import Institution, Practitioner
from meiguard.rules import institution as inst_policy
from meiguard.rules.services import NoActivePack, resolve

from . import policy
from .choices import (
    OPEN_FOLLOW_UP,
    FollowUpKind,
    FollowUpStatus,
    ReactionGrade,
    ReactionSource,
    ReactionStatus,
    Recovery,
    StepKind,
)
from .models import AdverseReaction, FollowUp, ReactionStep

MAX_FUTURE = dt.timedelta(minutes=5)

# ---- helpers ------------------------------------------------------------------------------------


def _text(
    value: str | None, field: str, max_length: int, errors: dict[str, list[str]], *, required: bool = True
) -> str:
    value = (value or "").strip()
    if required and not value:
        errors.setdefault(field, []).append(_("此字段为必填项"))
    elif len(value) > max_length:
        errors.setdefault(field, []).append(_("长度不能超过 %(n)s") % {"n": max_length})
    elif problem := control_character_error(value, multiline=is_multiline(field) or max_length > 500):
        errors.setdefault(field, []).append(problem)
    return value


def _choice(value: str | None, choices: Any, field: str, errors: dict[str, list[str]]) -> str:
    if value not in choices.values:
        errors.setdefault(field, []).append(
            _("取值无效,可选值:%(choices)s") % {"choices": ", ".join(choices.values)}
        )
    return value or ""


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise FieldErrors(errors)


def _local_end_of_day(at: dt.datetime) -> dt.datetime:
    day = timezone.localtime(at).date() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _settings_for(institution: Institution, at: dt.datetime) -> dict[str, int]:
    """This institution's aftercare settings (its policy, else the template, else the product default)."""
    try:
        pack = resolve(institution.province, timezone.localtime(at).date(), institution.pk)
    except NoActivePack:
        return dict(policy.DEFAULTS)
    out = dict(policy.DEFAULTS)
    for rule_id in policy.POLICY_RULES:
        rule = pack.rules.get(rule_id)
        value = rule.data.get("value") if rule is not None else None
        if isinstance(value, int) and not isinstance(value, bool):
            out[rule_id] = value
    return out


# ---- the plan ------------------------------------------------------------------------------------


def _contact_assignee(case: Case) -> int:
    """A contact goes to the case's nurse, else its 主诊; evaluations always to the 主诊 (docs/aftercare.md)."""
    return case.nurse_id or case.operator_id


def plan_on_close(actor: Actor, case: Case, record: OperationRecord) -> list[FollowUp]:
    """The follow-up plan of a case whose record just closed (called by ``clinical.close_record`` in its
    transaction): the contacts of the procedure's schedule under the institution's policy and the two outcome
    evaluations. Nothing is created twice (a case has one plan)."""
    if FollowUp.objects.filter(case=case).exists():
        return []
    start = record.closed_at or timezone.now()
    inst = case.institution
    template = None
    try:
        pack = resolve(inst.province, timezone.localtime(start).date(), inst.pk)
        template = pack.follow_up_for(case.invasiveness)
    except NoActivePack:
        template = None
    rows: list[FollowUp] = []
    if template is not None:
        with translation.override("zh-hans"):
            source = f"{template.rule.pack_label} · {template.rule.source_text}"[:255]
        for seq, offset in enumerate(template.schedule, start=1):
            rows.append(
                FollowUp(
                    institution_id=case.institution_id,
                    case=case,
                    kind=FollowUpKind.CONTACT,
                    sequence=seq,
                    offset=str(offset),
                    due_at=offset.due(start),
                    assignee_id=_contact_assignee(case),
                    rule_id=template.rule_id,
                    source=source,
                )
            )
    evaluation_source = policy.evaluation_source()
    for seq, (kind, opens, due) in enumerate(policy.EVALUATIONS, start=1):
        rows.append(
            FollowUp(
                institution_id=case.institution_id,
                case=case,
                kind=kind,
                sequence=seq,
                offset=str(due),
                window_from=opens.due(start),
                due_at=due.due(start),
                assignee_id=case.operator_id,
                rule_id="operations-procedure",
                source=evaluation_source[:255],
            )
        )
    FollowUp.objects.bulk_create(rows)
    audit.record(
        actor,
        "aftercare.plan.created",
        case,
        changes={
            "follow_ups": [
                f"{r.get_kind_display()} {r.offset} {timezone.localtime(r.due_at):%Y-%m-%d %H:%M}"
                for r in rows
            ],
            "rule": template.rule_id if template else "",
        },
    )
    return rows


# ---- recording a contact -------------------------------------------------------------------------


def _follow_up_for_update(actor: Actor, follow_up_id: int) -> FollowUp:
    fu = (
        FollowUp.objects.writable_by(actor)
        .select_for_update(of=("self",))
        .select_related("institution", "case", "case__operator", "case__nurse", "assignee")
        .filter(pk=follow_up_id)
        .first()
    )
    if fu is None:
        raise NotFoundField("follow_up_id")
    return fu


@transaction.atomic
def record_follow_up(
    actor: Actor,
    follow_up_id: int,
    *,
    reached: bool,
    recovery: str = "",
    adverse_signs: bool = False,
    satisfaction: int | None = None,
    notes: str = "",
    reaction_grade: str = "",
    reaction_description: str = "",
) -> FollowUp:
    """Record one contact. Reached: the outcome (recovery, adverse signs, satisfaction 1–5, notes) and, when
    adverse signs are graded, the adverse reaction in the same transaction. Not reached: one more missed
    attempt; the contact is retried after the institution's interval, then recorded as lost to follow-up."""
    fu = _follow_up_for_update(actor, follow_up_id)
    if not fu.is_open:
        raise ActionError("FOLLOW_UP_CLOSED", _("该随访已完成或已记为失访"), field="follow_up_id", status=409)
    errors: dict[str, list[str]] = {}
    notes = _text(notes, "notes", 4000, errors, required=False)
    now = timezone.now()
    if fu.window_from is not None and now < fu.window_from:
        errors.setdefault("follow_up_id", []).append(
            _("效果评估最早可于 %(at)s 进行") % {"at": f"{timezone.localtime(fu.window_from):%Y-%m-%d}"}
        )
    before = audit.snapshot(fu)
    if not reached:
        _raise(errors)
        settings = _settings_for(fu.institution, now)
        fu.attempts += 1
        fu.status = policy.next_state(fu.attempts, settings[policy.RETRY_COUNT_RULE])
        if fu.status == FollowUpStatus.MISSED:
            fu.due_at = now + dt.timedelta(hours=settings[policy.RETRY_HOURS_RULE])
        fu.notes = notes or fu.notes
        fu.save()
        audit.record(
            actor,
            "aftercare.followup.lost" if fu.status == FollowUpStatus.LOST else "aftercare.followup.missed",
            fu,
            before=before,
        )
        if fu.status == FollowUpStatus.LOST:
            _send_lost([fu])
        return fu
    recovery = _choice(recovery, Recovery, "recovery", errors)
    if satisfaction is not None and not (
        isinstance(satisfaction, int) and not isinstance(satisfaction, bool) and 1 <= satisfaction <= 5
    ):
        errors.setdefault("satisfaction", []).append(_("满意度须为 1–5 的整数"))
    if reaction_grade and not adverse_signs:
        errors.setdefault("reaction_grade", []).append(_("记录不良反应前请勾选“有不良反应迹象”"))
    if adverse_signs and reaction_grade:
        _choice(reaction_grade, ReactionGrade, "reaction_grade", errors)
        _text(reaction_description, "reaction_description", 4000, errors)
    _raise(errors)
    fu.status = FollowUpStatus.DONE
    fu.recovery = recovery
    fu.adverse_signs = adverse_signs
    fu.satisfaction = satisfaction
    fu.notes = notes
    fu.done_at = now
    fu.done_by_id = actor.user_id
    fu.save()
    audit.record(actor, "aftercare.followup.recorded", fu, before=before)
    if adverse_signs and reaction_grade:
        _report(
            actor,
            fu.case,
            grade=reaction_grade,
            description=reaction_description,
            source=ReactionSource.FOLLOW_UP,
            follow_up=fu,
        )
    return fu


# ---- adverse reactions ----------------------------------------------------------------------------


def _reaction_assignee(case: Case, grade: str) -> int:
    """Mild: the case's nurse (else the 主诊) tracks it; moderate and severe: the 主诊."""
    if grade == ReactionGrade.MILD:
        return case.nurse_id or case.operator_id
    return case.operator_id


@transaction.atomic
def report_reaction(
    actor: Actor,
    *,
    case_id: int,
    grade: str,
    description: str,
    source: str = ReactionSource.STAFF,
    onset_at: dt.datetime | None = None,
    reporter_name: str = "",
    follow_up_id: int | None = None,
) -> AdverseReaction:
    """Report an adverse reaction of a treated case; its clock starts now (docs/aftercare.md)."""
    case = (
        Case.objects.writable_by(actor)
        .select_for_update(of=("self",))
        .select_related("institution", "operator", "nurse")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise NotFoundField("case_id")
    follow_up = None
    if follow_up_id is not None:
        follow_up = FollowUp.objects.filter(pk=follow_up_id, case=case).first()
        if follow_up is None:
            raise NotFoundField("follow_up_id")
    errors: dict[str, list[str]] = {}
    _choice(grade, ReactionGrade, "grade", errors)
    _choice(source, ReactionSource, "source", errors)
    _text(description, "description", 4000, errors)
    reporter_name = _text(reporter_name, "reporter_name", 64, errors, required=False)
    if source == ReactionSource.CLIENT and not reporter_name:
        errors.setdefault("reporter_name", []).append(_("求美者报告须填写报告人姓名"))
    if onset_at is not None and onset_at > timezone.now() + MAX_FUTURE:
        errors.setdefault("onset_at", []).append(_("出现时间不能晚于现在"))
    _raise(errors)
    return _report(
        actor,
        case,
        grade=grade,
        description=description,
        source=source,
        onset_at=onset_at,
        reporter_name=reporter_name,
        follow_up=follow_up,
    )


def _report(
    actor: Actor,
    case: Case,
    *,
    grade: str,
    description: str,
    source: str,
    onset_at: dt.datetime | None = None,
    reporter_name: str = "",
    follow_up: FollowUp | None = None,
) -> AdverseReaction:
    if not OperationRecord.objects.filter(case=case).exists():
        raise ActionError(
            "CASE_NOT_TREATED", _("该病例尚未治疗,不能报告不良反应"), field="case_id", status=409
        )
    now = timezone.now()
    clock = policy.CLOCKS[grade]
    rx = AdverseReaction.objects.create(
        institution_id=case.institution_id,
        case=case,
        follow_up=follow_up,
        source=source,
        grade=grade,
        description=description.strip(),
        onset_at=onset_at,
        reported_at=now,
        reported_by_id=actor.user_id,
        reporter_name=reporter_name,
        assignee_id=_reaction_assignee(case, grade),
        clock_started_at=now,
        due_at=now + clock.within,
    )
    lot_ids = sorted(
        {
            pk
            for pk in Usage.objects.filter(case=case, lot__isnull=False).values_list("lot_id", flat=True)
            if pk
        }
    )
    if lot_ids:
        rx.lots.set(lot_ids)
    audit.record(actor, "aftercare.adversereaction.reported", rx, before={})
    from .incidents import after_reaction  # incidents builds on this module

    after_reaction(rx, lot_ids)
    rx = AdverseReaction.objects.select_related("institution", "case", "case__operator", "assignee").get(
        pk=rx.pk
    )
    messages = [_reported_message(rx, _roles_by_org([rx.institution.organization_id]))]
    if grade == ReactionGrade.SEVERE:
        rx.warned_at = now  # the alert with the report is the severe clock's "before" notice
        rx.save(update_fields=["warned_at", "updated_at"])
    send_many(messages)
    return rx


def _step_signer(actor: Actor, rx: AdverseReaction, kind: str) -> Practitioner:
    person = signer(actor, rx.institution_id)
    if kind in (StepKind.REVISIT, StepKind.MDT) and person.profession != "doctor":
        raise ActionError("STEP_NEEDS_DOCTOR", _("复诊和多学科会诊须由医师记录"), field="kind", status=403)
    return person


@transaction.atomic
def record_step(
    actor: Actor,
    reaction_id: int,
    *,
    kind: str,
    note: str = "",
    at: dt.datetime | None = None,
) -> ReactionStep:
    """One step of the handling by the signed-in practitioner (named, timed). When every step the grade
    requires is recorded, the clock stops (``handled_at``: the latest of those steps)."""
    rx = (
        AdverseReaction.objects.writable_by(actor)
        .select_for_update(of=("self",))
        .select_related("institution", "case")
        .filter(pk=reaction_id)
        .first()
    )
    if rx is None:
        raise NotFoundField("reaction_id")
    errors: dict[str, list[str]] = {}
    _choice(kind, StepKind, "kind", errors)
    note = _text(note, "note", 4000, errors, required=False)
    now = timezone.now()
    at = at or now
    if at > now + MAX_FUTURE:
        errors.setdefault("at", []).append(_("时间不能晚于现在"))
    elif at < rx.reported_at - dt.timedelta(days=1):
        errors.setdefault("at", []).append(_("时间不能早于报告时间"))
    _raise(errors)
    if rx.status == ReactionStatus.RESOLVED:
        raise ActionError("REACTION_RESOLVED", _("该不良反应已处置完毕"), field="reaction_id", status=409)
    person = _step_signer(actor, rx, kind)
    before = audit.snapshot(rx)
    step = ReactionStep.objects.create(
        reaction=rx, kind=kind, at=at, by=person, recorded_by_id=actor.user_id, note=note
    )
    audit.record(actor, "aftercare.reactionstep.recorded", step, before={})
    steps = list(ReactionStep.objects.filter(reaction=rx).values_list("kind", "at"))
    clock = policy.CLOCKS[rx.grade]
    done = {k for k, _at in steps}
    if rx.handled_at is None and not clock.missing(done):
        rx.handled_at = max(a for k, a in steps if k in clock.required)
    if kind == StepKind.RESOLVED:
        rx.status = ReactionStatus.RESOLVED
        rx.resolved_at = at
    rx.save()
    audit.record(actor, "aftercare.adversereaction.updated", rx, before=before)
    return step


# ---- notices ------------------------------------------------------------------------------------


def _users(*people: Practitioner | None) -> list[int]:
    return [p.user_id for p in people if p is not None and p.user_id]


def _recipients(*groups: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted({u for g in groups for u in g}))


def _reported_message(rx: AdverseReaction, roles: dict[int, dict[str, list[int]]]) -> Message:
    clock = policy.CLOCKS[rx.grade]
    people = _users(rx.assignee, rx.case.operator)
    severe = rx.grade == ReactionGrade.SEVERE
    if severe:
        people += _officers(roles, rx.institution.organization_id)
    return Message(
        _recipients(people),
        kind=NotificationKind.AFTERCARE,
        message="aftercare.reaction_severe" if severe else "aftercare.reaction_reported",
        params={
            "code": rx.case.code,
            "grade": label(ReactionGrade(rx.grade).label),
            "due": _when(rx.due_at),
            "steps": _steps(k for k in StepKind.values if k in clock.required),
            "source": each_language(lambda: clock.source(None)),
        },
        url=f"/aftercare/reactions/{rx.pk}/",
        dedupe_key=f"aftercare:rx:{rx.pk}:reported",
    )


def _when(at: dt.datetime, fmt: str = "%m-%d %H:%M") -> str:
    return f"{timezone.localtime(at):{fmt}}"


def _steps(kinds: Iterable[str]) -> dict[str, dict[str, str]]:
    """Step names joined as each language joins a list (、 / , ), computed once per language at send time."""
    keys = list(kinds)
    return each_language(lambda: gettext("、").join(str(StepKind(k).label) for k in keys))


def _fu_label(fu: FollowUp) -> dict[str, dict[str, str]]:
    return each_language(lambda: f"{fu.case.code} {fu.get_kind_display()} {fu.offset}")


def _send_lost(rows: list[FollowUp]) -> None:
    roles = _roles_by_org({fu.institution.organization_id for fu in rows})
    send_many(_lost_message(fu, roles) for fu in rows)


def _lost_message(fu: FollowUp, roles: dict[int, dict[str, list[int]]]) -> Message:
    return Message(
        _recipients(_users(fu.assignee, fu.case.operator), _officers(roles, fu.institution.organization_id)),
        kind=NotificationKind.AFTERCARE,
        message="aftercare.follow_up_lost",
        params={"what": _fu_label(fu), "n": max(fu.attempts - 1, 0)},
        url=f"/aftercare/follow-ups/{fu.pk}/",
        dedupe_key=f"aftercare:fu:{fu.pk}:lost",
    )


# ---- the clock job ------------------------------------------------------------------------------


def run_clocks(at: dt.datetime | None = None) -> dict[str, int]:
    """One tick of every aftercare clock at ``at`` (default now); idempotent, each notice once.

    Follow-ups: an open contact not recorded a full retry interval after it was due is a missed attempt
    (retried after the interval, then lost to follow-up); open contacts due by the end of the local day are
    announced to their assignee. Reactions: the "about to run out" notice before the deadline and the
    escalation at it. A fixed number of queries whatever the number of rows (pinned in the tests)."""
    at = at or timezone.now()
    with transaction.atomic():
        counts = _tick_follow_ups(at)
        counts.update(_tick_reactions(at))
        from .incidents import tick_reports  # incidents builds on this module

        counts.update(tick_reports(at))
    return counts


def _tick_follow_ups(at: dt.datetime) -> dict[str, int]:
    rows = list(
        FollowUp.objects.filter(status__in=OPEN_FOLLOW_UP, due_at__lt=_local_end_of_day(at))
        .select_related("institution", "case", "case__operator", "assignee")
        # A concurrent tick (cron + the daily job) skips the rows this one holds: a miss is counted once.
        .select_for_update(of=("self",), skip_locked=True)
        .order_by("due_at", "pk")
    )
    if not rows:
        return {"follow_ups_due": 0, "follow_ups_missed": 0, "follow_ups_lost": 0}
    per_inst, default = inst_policy.requirement_values_in_force(
        timezone.localtime(at).date(), policy.POLICY_RULES
    )
    changed: list[FollowUp] = []
    missed: list[FollowUp] = []
    lost: list[FollowUp] = []
    for fu in rows:
        values = {
            **policy.DEFAULTS,
            **{k: v for k, v in per_inst.get(fu.institution_id, default).items() if v},
        }
        interval = dt.timedelta(hours=int(values[policy.RETRY_HOURS_RULE]))
        retries = int(values[policy.RETRY_COUNT_RULE])
        moved = False
        while fu.status in OPEN_FOLLOW_UP and fu.due_at + interval <= at:
            fu.attempts += 1
            fu.status = policy.next_state(fu.attempts, retries)
            if fu.status == FollowUpStatus.MISSED:
                fu.due_at = fu.due_at + interval
            moved = True
        if moved:
            changed.append(fu)
            (lost if fu.status == FollowUpStatus.LOST else missed).append(fu)
    now = timezone.now()
    for fu in changed:
        fu.updated_at = now
    if changed:
        FollowUp.objects.bulk_update(changed, ["status", "attempts", "due_at", "updated_at"])
    roles = _roles_by_org({fu.institution.organization_id for fu in rows}) if lost else {}
    messages: list[Message] = []
    due = [fu for fu in rows if fu.status in OPEN_FOLLOW_UP]
    for fu in due:
        overdue = fu.due_at < at
        messages.append(
            Message(
                _recipients(_users(fu.assignee)),
                kind=NotificationKind.AFTERCARE,
                message="aftercare.follow_up_overdue" if overdue else "aftercare.follow_up_due",
                params={"what": _fu_label(fu), "at": _when(fu.due_at, "%Y-%m-%d %H:%M")},
                url=f"/aftercare/follow-ups/{fu.pk}/",
                dedupe_key=f"aftercare:fu:{fu.pk}:{'overdue' if overdue else 'due'}:{fu.attempts}",
            )
        )
    messages += [_lost_message(fu, roles) for fu in lost]
    sent = send_many(messages)
    by_inst: dict[int, list[FollowUp]] = defaultdict(list)
    for fu in changed:
        by_inst[fu.institution_id].append(fu)
    system = Actor.system("scheduler")
    for fus in by_inst.values():
        audit.record(
            system,
            "aftercare.followup.clock",
            fus[0].institution,
            changes={
                "missed": [f.pk for f in fus if f.status == FollowUpStatus.MISSED],
                "lost": [f.pk for f in fus if f.status == FollowUpStatus.LOST],
            },
        )
    return {"follow_ups_due": len(sent), "follow_ups_missed": len(missed), "follow_ups_lost": len(lost)}


def _tick_reactions(at: dt.datetime) -> dict[str, int]:
    longest_warning = max(c.warn_before for c in policy.CLOCKS.values())
    rows = list(
        AdverseReaction.objects.filter(
            handled_at__isnull=True,
            status=ReactionStatus.OPEN,
            breached_at__isnull=True,
            due_at__lte=at + longest_warning,
        )
        .select_related("institution", "case", "case__operator", "assignee")
        .select_for_update(of=("self",), skip_locked=True)
        .order_by("due_at", "pk")
    )
    warned: list[AdverseReaction] = []
    breached: list[AdverseReaction] = []
    for rx in rows:
        clock = policy.CLOCKS[rx.grade]
        if at >= rx.due_at:
            breached.append(rx)
        elif at >= rx.due_at - clock.warn_before and rx.warned_at is None:
            warned.append(rx)
    if not warned and not breached:
        return {"reactions_warned": 0, "reactions_escalated": 0}
    roles = _roles_by_org({rx.institution.organization_id for rx in warned + breached})
    messages: list[Message] = []
    for rx in warned:
        messages.append(
            Message(
                _recipients(_users(rx.assignee, rx.case.operator)),
                kind=NotificationKind.AFTERCARE,
                message="aftercare.reaction_warning",
                params=_clock_params(rx),
                url=f"/aftercare/reactions/{rx.pk}/",
                dedupe_key=f"aftercare:rx:{rx.pk}:warn",
            )
        )
    for rx in breached:
        messages.append(
            Message(
                _recipients(
                    _users(rx.assignee, rx.case.operator),
                    _officers(roles, rx.institution.organization_id),
                ),
                kind=NotificationKind.AFTERCARE,
                message="aftercare.reaction_breach",
                params=_clock_params(rx),
                url=f"/aftercare/reactions/{rx.pk}/",
                dedupe_key=f"aftercare:rx:{rx.pk}:breach",
            )
        )
    send_many(messages)
    now = timezone.now()
    for rx in warned:
        rx.warned_at = at
        rx.updated_at = now
    for rx in breached:
        rx.breached_at = at
        rx.warned_at = rx.warned_at or at
        rx.updated_at = now
    AdverseReaction.objects.bulk_update(warned + breached, ["warned_at", "breached_at", "updated_at"])
    by_inst: dict[int, list[AdverseReaction]] = defaultdict(list)
    for rx in breached:
        by_inst[rx.institution_id].append(rx)
    system = Actor.system("scheduler")
    for rxs in by_inst.values():
        audit.record(
            system,
            "aftercare.adversereaction.escalated",
            rxs[0].institution,
            changes={"reactions": [r.pk for r in rxs]},
        )
    return {"reactions_warned": len(warned), "reactions_escalated": len(breached)}


def _clock_params(rx: AdverseReaction) -> dict[str, Any]:
    """What a clock notice names: the case, the grade, the deadline, the steps that stop the clock (it is still
    open, so not all of them are recorded) and the clock's source."""
    clock = policy.CLOCKS[rx.grade]
    return {
        "code": rx.case.code,
        "grade": label(ReactionGrade(rx.grade).label),
        "due": _when(rx.due_at),
        "steps": _steps(clock.missing(set())),
        "source": each_language(lambda: clock.source(None)),
    }


# Re-exported for the API and views.
__all__ = [
    "plan_on_close",
    "record_follow_up",
    "record_step",
    "report_reaction",
    "run_clocks",
]
