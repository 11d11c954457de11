"""Every state change of complaints. Each is atomic, access-checked (``writable_by``), audited in the same
transaction, and refuses a wrong state with a 409 naming the current state.

- ``receive`` (staff or API) / ``receive_public`` (the later public form): intake with a tracking number; the
  person who takes it owns it (首诉负责制); ``on_spot`` resolves it at intake with the complainant's confirmation.
- ``acknowledge`` → ``investigate`` → ``resolve`` → ``close`` (satisfaction 1–5 or a no-answer note);
  ``add_note`` (append-only), ``handover`` (to a named person, with a reason), ``escalate`` (to the association
  overseeing the institution), ``withdraw``.
- ``tick``: the clock job (warning before and notice at breach of both deadlines, once each).

Personal data of the complainant (name, contact) never goes into a notification, an audit ``changes`` summary or
a log line: the audit snapshot masks them (``Complaint.audit_masked_fields``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.clinical.models import Case
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import OrganizationKind
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import Membership, Organization, User
from meiguard.core.schemas import control_character_error
from meiguard.notify.messages import each_language, label
from meiguard.notify.models import NotificationKind
from meiguard.notify.recipients import officers as _officers
from meiguard.notify.recipients import roles_by_org as _roles_by_org
from meiguard.notify.services import Message, send_many
from meiguard.registry.models import Institution, Practitioner
from meiguard.rules.services import NoActivePack, resolve

from . import policy
from .choices import (
    ASSOCIATION_HANDLERS,
    COMPLAINT_OFFICERS,
    COMPLAINT_TAKERS,
    OPEN_STATUSES,
    STAFF_CHANNELS,
    Category,
    Channel,
    EventKind,
    Status,
)
from .models import Complaint, ComplaintEvent

MAX_FUTURE = dt.timedelta(minutes=5)
MAX_PAST = dt.timedelta(days=90)
MAX_PRACTITIONERS = 20

_DIGITS = re.compile(r"\d")


# ---- helpers ------------------------------------------------------------------------------------


def _text(
    value: str | None,
    field: str,
    max_length: int,
    errors: dict[str, list[str]],
    *,
    required: bool = True,
    multiline: bool = True,
) -> str:
    value = (value or "").strip()
    if required and not value:
        errors.setdefault(field, []).append(_("此字段为必填项"))
    elif len(value) > max_length:
        errors.setdefault(field, []).append(_("长度不能超过 %(n)s") % {"n": max_length})
    elif problem := control_character_error(value, multiline=multiline):
        errors.setdefault(field, []).append(problem)
    return value


def _choice(value: str | None, allowed: Iterable[str], field: str, errors: dict[str, list[str]]) -> str:
    allowed = list(allowed)
    if value not in allowed:
        errors.setdefault(field, []).append(
            _("取值无效,可选值:%(choices)s") % {"choices": ", ".join(allowed)}
        )
    return value or ""


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise FieldErrors(errors)


def _satisfaction(value: Any, errors: dict[str, list[str]]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        errors.setdefault("satisfaction", []).append(_("满意度须为 1–5 的整数"))
        return None
    return value


def settings_for(institution: Institution, at: dt.datetime) -> dict[str, int]:
    """This institution's complaint settings (its policy, else the template, else the product default)."""
    out = dict(policy.DEFAULTS)
    try:
        pack = resolve(institution.province, timezone.localtime(at).date(), institution.pk)
    except NoActivePack:
        return out
    for rule_id in policy.POLICY_RULES:
        rule = pack.rules.get(rule_id)
        value = rule.data.get("value") if rule is not None else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[rule_id] = value
    return out


def _name(actor: Actor) -> str:
    if actor.user_id is None:
        return actor.username
    user = User.objects.filter(pk=actor.user_id).first()
    return str(user) if user is not None else actor.username


def _event(
    complaint: Complaint,
    actor: Actor,
    kind: str,
    *,
    at: dt.datetime,
    note: str = "",
    to_user: User | None = None,
) -> ComplaintEvent:
    return ComplaintEvent.objects.create(
        complaint=complaint,
        kind=kind,
        at=at,
        by_id=actor.user_id,
        by_label=_name(actor)[:150],
        to_user=to_user,
        note=note,
    )


def _state_error(c: Complaint, wanted: str) -> ActionError:
    return ActionError(
        "COMPLAINT_STATE",
        _("投诉当前状态为“%(status)s”,不能%(wanted)s") % {"status": c.get_status_display(), "wanted": wanted},
        field="status",
        status=409,
    )


def _for_update(actor: Actor, pk: int) -> Complaint:
    found = (
        Complaint.objects.writable_by(actor)
        .select_for_update(of=("self",))
        .select_related("institution", "owner", "escalated_to")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFoundField("complaint_id")
    return found


def is_officer(actor: Actor, c: Complaint) -> bool:
    return actor.is_unrestricted or c.institution.organization_id in actor.org_ids_with_roles(
        COMPLAINT_OFFICERS
    )


def is_association(actor: Actor, c: Complaint) -> bool:
    return (
        c.status == Status.ESCALATED
        and c.escalated_to_id is not None
        and c.escalated_to_id in actor.org_ids_with_roles(ASSOCIATION_HANDLERS)
    )


def may_handle(actor: Actor, c: Complaint) -> bool:
    """The institution side: its officers, or the owner (the person who took it or was handed it)."""
    if is_officer(actor, c):
        return True
    org = c.institution.organization_id
    return (
        actor.user_id is not None
        and c.owner_id == actor.user_id
        and org in actor.org_ids_with_roles(COMPLAINT_TAKERS)
    )


def _require_handler(actor: Actor, c: Complaint, *, association: bool = False) -> None:
    """The institution side (``may_handle``), or — where ``association`` — the association's staff on a
    complaint escalated to it."""
    if may_handle(actor, c) or (association and _assoc_member(actor, c)):
        return
    raise ActionError(
        "COMPLAINT_NOT_OWNER",
        _("只有投诉负责人或本机构医务科、授权专员、管理员可以处理该投诉"),
        field="complaint_id",
        status=403,
    )


def _snapshot(c: Complaint) -> dict[str, Any]:
    return audit.snapshot(c)


def _record(actor: Actor, code: str, c: Complaint, before: dict[str, Any], reason: str = "") -> None:
    audit.record(actor, code, c, before=before, reason=reason)


# ---- intake -------------------------------------------------------------------------------------


@transaction.atomic
def receive(
    actor: Actor,
    *,
    institution_id: int,
    channel: str,
    category: str,
    complainant_name: str,
    complainant_contact: str,
    description: str,
    case_id: int | None = None,
    practitioner_ids: Sequence[int] = (),
    multi_department: bool = False,
    received_at: dt.datetime | None = None,
    on_spot: bool = False,
    resolution: str = "",
    complainant_confirmed: bool = False,
    satisfaction: int | None = None,
) -> Complaint:
    """Take a complaint: a tracking number, both deadlines from the institution's settings, and its owner — the
    person taking it (首诉负责制). ``on_spot``: resolved at intake, which needs the resolution and the
    complainant's confirmation (and closes it when a satisfaction score is given)."""
    public = channel == Channel.PUBLIC
    if public and not actor.is_system:
        raise ActionError("CHANNEL_PUBLIC", _("公众投诉只能由公众投诉页面提交"), field="channel", status=422)
    if actor.is_system:
        inst = Institution.objects.filter(pk=institution_id).first()
    else:
        inst = Institution.objects.visible_to(actor).filter(pk=institution_id).first()
        if inst is not None and not actor.can_write_org(inst.organization_id, COMPLAINT_TAKERS):
            raise ActionError(
                "COMPLAINT_NOT_STAFF",
                _("只有本机构的医护和管理人员可以受理投诉"),
                field="institution_id",
                status=403,
            )
    if inst is None:
        raise NotFoundField("institution_id")
    errors: dict[str, list[str]] = {}
    _choice(channel, Channel.values if actor.is_system else STAFF_CHANNELS, "channel", errors)
    _choice(category, Category.values, "category", errors)
    complainant_name = _text(complainant_name, "complainant_name", 64, errors, multiline=False)
    complainant_contact = _text(complainant_contact, "complainant_contact", 64, errors, multiline=False)
    description = _text(description, "description", 4000, errors)
    resolution = _text(resolution, "resolution", 4000, errors, required=on_spot)
    satisfaction = _satisfaction(satisfaction, errors)
    now = timezone.now()
    received_at = received_at or now
    if timezone.is_naive(received_at):
        errors.setdefault("received_at", []).append(_("时间须带时区"))
    elif received_at > now + MAX_FUTURE:
        errors.setdefault("received_at", []).append(_("时间不能晚于现在"))
    elif received_at < now - MAX_PAST:
        errors.setdefault("received_at", []).append(_("受理时间不能早于 90 天前"))
    if on_spot and not complainant_confirmed:
        errors.setdefault("complainant_confirmed", []).append(_("当场处理须经投诉人确认"))
    if satisfaction is not None and not on_spot:
        errors.setdefault("satisfaction", []).append(_("满意度在结案时记录"))
    case = None
    if case_id is not None:
        case = Case.objects.filter(pk=case_id, institution_id=inst.pk).first()
        if case is None:
            errors.setdefault("case_id", []).append(_("本机构没有该病例"))
    ids = sorted(set(practitioner_ids))
    if len(ids) > MAX_PRACTITIONERS:
        errors.setdefault("practitioner_ids", []).append(_("最多关联 %(n)s 人") % {"n": MAX_PRACTITIONERS})
    elif ids:
        found = set(
            Practitioner.objects.filter(pk__in=ids, main_institution_id=inst.pk).values_list("pk", flat=True)
        ) | set(
            Practitioner.objects.filter(pk__in=ids, sites__institution_id=inst.pk).values_list(
                "pk", flat=True
            )
        )
        for pk in ids:
            if pk not in found:
                errors.setdefault("practitioner_ids", []).append(
                    _("本机构没有编号为 %(id)s 的执业人员") % {"id": pk}
                )
    _raise(errors)
    values = settings_for(inst, received_at)
    due = policy.deadlines(received_at, values, multi_department=multi_department)
    digits = "".join(_DIGITS.findall(complainant_contact))
    for _attempt in range(5):
        tracking_no = policy.tracking_number(received_at)
        if not Complaint.objects.filter(tracking_no=tracking_no).exists():
            break
    c = Complaint(
        institution=inst,
        tracking_no=tracking_no,
        channel=channel,
        category=category,
        complainant_name=complainant_name,
        complainant_contact=complainant_contact,
        contact_tail_index=Complaint.tail_index(tracking_no, digits[-4:]) if len(digits) >= 4 else "",
        description=description,
        case=case,
        multi_department=multi_department,
        received_at=received_at,
        received_by_id=actor.user_id,
        owner_id=actor.user_id,
        ack_due_at=due.ack_due_at,
        resolve_due_at=due.resolve_due_at,
    )
    if on_spot:
        c.status = Status.RESOLVED
        c.acknowledged_at = c.resolved_at = received_at
        c.resolved_on_spot = True
        c.resolution = resolution
        if satisfaction is not None:
            c.status = Status.CLOSED
            c.satisfaction = satisfaction
            c.closed_at = received_at
    try:
        with transaction.atomic():
            c.save()
    except IntegrityError:  # the same tracking number drawn twice at once: vanishingly rare, a clear 409
        raise ActionError("TRY_AGAIN", _("编号冲突,请重试"), status=409) from None
    if ids:
        c.practitioners.set(ids)
    _event(c, actor, EventKind.RECEIVED, at=received_at)
    if on_spot:
        _event(c, actor, EventKind.RESOLVED_ON_SPOT, at=received_at, note=resolution)
        if satisfaction is not None:
            _event(c, actor, EventKind.CLOSED, at=received_at, note=_("满意度 %(n)s") % {"n": satisfaction})
    audit.record(actor, "complaints.complaint.received", c, before={})
    if not on_spot:
        roles = _roles_by_org([inst.organization_id])
        people = set(_officers(roles, inst.organization_id)) - {actor.user_id}
        send_many(
            [
                Message(
                    tuple(sorted(u for u in people if u)),
                    kind=NotificationKind.COMPLAINT,
                    message="complaints.received",
                    params=_params(c),
                    url=f"/complaints/{c.pk}/",
                    dedupe_key=f"complaints:{c.pk}:received",
                )
            ]
        )
    return c


def receive_public(
    *,
    institution_id: int,
    category: str,
    complainant_name: str,
    complainant_contact: str,
    description: str,
) -> Complaint:
    """The entry point of the public complaint form (a later issue): no owner until the institution's officers
    hand it to someone; they are notified at once. The caller rate-limits and challenges."""
    return receive(
        Actor.system("public"),
        institution_id=institution_id,
        channel=Channel.PUBLIC,
        category=category,
        complainant_name=complainant_name,
        complainant_contact=complainant_contact,
        description=description,
    )


# ---- the workflow -------------------------------------------------------------------------------


def _note(note: str, field: str = "note", *, required: bool = False) -> str:
    errors: dict[str, list[str]] = {}
    note = _text(note, field, 4000, errors, required=required)
    _raise(errors)
    return note


@transaction.atomic
def acknowledge(actor: Actor, pk: int, *, note: str = "") -> Complaint:
    """The complainant has been told the complaint is received and who handles it (stops the first clock)."""
    c = _for_update(actor, pk)
    note = _note(note)
    _require_handler(actor, c)
    if c.status != Status.RECEIVED:
        raise _state_error(c, _("回应"))
    now = timezone.now()
    before = _snapshot(c)
    c.status = Status.ACKNOWLEDGED
    c.acknowledged_at = now
    c.save()
    _event(c, actor, EventKind.ACKNOWLEDGED, at=now, note=note)
    _record(actor, "complaints.complaint.acknowledged", c, before)
    return c


@transaction.atomic
def investigate(actor: Actor, pk: int, *, note: str = "") -> Complaint:
    c = _for_update(actor, pk)
    note = _note(note)
    _require_handler(actor, c)
    if c.status != Status.ACKNOWLEDGED:
        raise _state_error(c, _("开始调查(须先回应投诉人)"))
    now = timezone.now()
    before = _snapshot(c)
    c.status = Status.INVESTIGATING
    c.save()
    _event(c, actor, EventKind.INVESTIGATING, at=now, note=note)
    _record(actor, "complaints.complaint.investigating", c, before)
    return c


@transaction.atomic
def add_note(actor: Actor, pk: int, *, note: str) -> ComplaintEvent:
    """An investigation note (append-only); the association may add notes to a complaint escalated to it."""
    c = _for_update(actor, pk)
    note = _note(note, required=True)
    _require_handler(actor, c, association=True)
    if not c.is_open:
        raise _state_error(c, _("添加调查记录"))
    event = _event(c, actor, EventKind.NOTE, at=timezone.now(), note=note)
    audit.record(actor, "complaints.complaint.noted", c, changes={"event": event.pk})
    return event


@transaction.atomic
def handover(actor: Actor, pk: int, *, to_user_id: int, reason: str) -> Complaint:
    """Hand the complaint to a named colleague (a staff member of the institution) with a reason: they own it
    from now on. Only the owner or an officer hands over."""
    c = _for_update(actor, pk)
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", 1000, errors)
    _raise(errors)
    _require_handler(actor, c)
    if not c.is_open:
        raise _state_error(c, _("移交"))
    target = (
        User.objects.filter(
            pk=to_user_id,
            is_active=True,
            memberships__organization_id=c.institution.organization_id,
            memberships__role__in=sorted(COMPLAINT_TAKERS),
            memberships__is_active=True,
        )
        .distinct()
        .first()
    )
    if target is None:
        raise FieldErrors({"to_user_id": [_("只能移交给本机构的医护或管理人员")]})
    if target.pk == c.owner_id:
        raise ActionError("ALREADY_OWNER", _("该人员已是投诉负责人"), field="to_user_id", status=409)
    before = _snapshot(c)
    c.owner = target
    c.save()
    _event(c, actor, EventKind.HANDOVER, at=timezone.now(), note=reason, to_user=target)
    _record(actor, "complaints.complaint.handed_over", c, before, reason=reason)
    send_many(
        [
            Message(
                (target.pk,),
                kind=NotificationKind.COMPLAINT,
                message="complaints.handed_over",
                params=_params(c),
                url=f"/complaints/{c.pk}/",
                dedupe_key=f"complaints:{c.pk}:handover:{ComplaintEvent.objects.filter(complaint=c).count()}",
            )
        ]
    )
    return c


@transaction.atomic
def resolve_complaint(actor: Actor, pk: int, *, resolution: str) -> Complaint:
    """The outcome told to the complainant (stops the second clock). The association may resolve a complaint
    escalated to it (its mediation result)."""
    c = _for_update(actor, pk)
    resolution = _note(resolution, "resolution", required=True)
    _require_handler(actor, c, association=True)
    if c.status not in (Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.ESCALATED):
        raise _state_error(c, _("记录处理结果(须先回应投诉人)"))
    now = timezone.now()
    before = _snapshot(c)
    c.status = Status.RESOLVED
    c.resolved_at = now
    c.resolution = resolution
    c.save()
    _event(c, actor, EventKind.RESOLVED, at=now, note=resolution)
    _record(actor, "complaints.complaint.resolved", c, before)
    return c


@transaction.atomic
def close(actor: Actor, pk: int, *, satisfaction: int | None = None, no_answer_note: str = "") -> Complaint:
    """Close a resolved complaint with the complainant's satisfaction (1–5), or a note that they could not be
    reached / did not answer."""
    c = _for_update(actor, pk)
    errors: dict[str, list[str]] = {}
    satisfaction = _satisfaction(satisfaction, errors)
    no_answer_note = _text(no_answer_note, "no_answer_note", 1000, errors, required=False)
    if satisfaction is None and not no_answer_note and "satisfaction" not in errors:
        errors.setdefault("satisfaction", []).append(_("请记录投诉人的满意度,或说明未能联系上"))
    if satisfaction is not None and no_answer_note:
        errors.setdefault("no_answer_note", []).append(_("已记录满意度时不填写未答复说明"))
    _raise(errors)
    _require_handler(actor, c, association=True)
    if c.status != Status.RESOLVED:
        raise _state_error(c, _("结案(须先记录处理结果)"))
    now = timezone.now()
    before = _snapshot(c)
    c.status = Status.CLOSED
    c.closed_at = now
    c.satisfaction = satisfaction
    c.closing_note = no_answer_note
    c.save()
    text = _("满意度 %(n)s") % {"n": satisfaction} if satisfaction is not None else no_answer_note
    _event(c, actor, EventKind.CLOSED, at=now, note=text)
    _record(actor, "complaints.complaint.closed", c, before)
    return c


def _assoc_member(actor: Actor, c: Complaint) -> bool:
    return c.escalated_to_id is not None and c.escalated_to_id in actor.org_ids_with_roles(
        ASSOCIATION_HANDLERS
    )


def overseers(c: Complaint) -> list[Organization]:
    return list(
        Organization.objects.filter(
            kind=OrganizationKind.OVERSIGHT, is_active=True, oversees=c.institution.organization_id
        ).order_by("name", "pk")
    )


@transaction.atomic
def escalate(actor: Actor, pk: int, *, reason: str, organization_id: int | None = None) -> Complaint:
    """Submit a dispute to the association overseeing the institution (its oversight organisation): its staff
    then see the complaint and may add notes, resolve and close it. The clocks keep running."""
    c = _for_update(actor, pk)
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", 1000, errors)
    _raise(errors)
    _require_handler(actor, c)
    if c.status not in (Status.RECEIVED, Status.ACKNOWLEDGED, Status.INVESTIGATING):
        raise _state_error(c, _("提交协会"))
    bodies = overseers(c)
    if not bodies:
        raise ActionError(
            "NO_ASSOCIATION", _("本机构没有所属的行业协会或监督机构"), field="organization_id", status=409
        )
    if organization_id is None:
        if len(bodies) > 1:
            raise FieldErrors({"organization_id": [_("本机构有多个监督机构,请选择提交给哪一个")]})
        body = bodies[0]
    else:
        body = next((b for b in bodies if b.pk == organization_id), None)  # type: ignore[assignment]
        if body is None:
            raise NotFoundField("organization_id")
    now = timezone.now()
    before = _snapshot(c)
    c.status = Status.ESCALATED
    c.escalated_to = body
    c.escalated_at = now
    if c.acknowledged_at is None:
        c.acknowledged_at = now
    c.save()
    _event(c, actor, EventKind.ESCALATED, at=now, note=reason)
    _record(actor, "complaints.complaint.escalated", c, before, reason=reason)
    handlers = Membership.objects.filter(
        organization=body, role__in=sorted(ASSOCIATION_HANDLERS), is_active=True, user__is_active=True
    ).values_list("user_id", flat=True)
    send_many(
        [
            Message(
                tuple(sorted(set(handlers))),
                kind=NotificationKind.COMPLAINT,
                message="complaints.escalated",
                params=_params(c),
                url=f"/complaints/{c.pk}/",
                dedupe_key=f"complaints:{c.pk}:escalated",
            )
        ]
    )
    return c


@transaction.atomic
def withdraw(actor: Actor, pk: int, *, reason: str) -> Complaint:
    """The complainant withdraws (recorded by the institution side); the clocks stop."""
    c = _for_update(actor, pk)
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", 1000, errors)
    _raise(errors)
    _require_handler(actor, c)
    if c.status not in (Status.RECEIVED, Status.ACKNOWLEDGED, Status.INVESTIGATING):
        raise _state_error(c, _("撤回"))
    now = timezone.now()
    before = _snapshot(c)
    c.status = Status.WITHDRAWN
    c.withdrawn_at = now
    c.save()
    _event(c, actor, EventKind.WITHDRAWN, at=now, note=reason)
    _record(actor, "complaints.complaint.withdrawn", c, before, reason=reason)
    return c


# ---- notices ------------------------------------------------------------------------------------


def _when(at: dt.datetime) -> str:
    return f"{timezone.localtime(at):%Y-%m-%d %H:%M}"


def _params(c: Complaint, due: dt.datetime | None = None) -> dict[str, Any]:
    """What a notice names: the tracking number, the category, the deadline and the source — never the
    complainant's name, contact or description."""
    return {
        "no": c.tracking_no,
        "category": label(Category(c.category).label),
        "due": _when(due or c.resolve_due_at),
        "source": each_language(lambda: policy.source(None)),
    }


# ---- the clock job ------------------------------------------------------------------------------


CLOCKS = (
    # name, due field, done field, warned field, breached field, warning
    ("ack", "ack_due_at", "acknowledged_at", "ack_warned_at", "ack_breached_at", policy.ACK_WARN_BEFORE),
    (
        "resolve",
        "resolve_due_at",
        "resolved_at",
        "resolve_warned_at",
        "resolve_breached_at",
        policy.RESOLVE_WARN_BEFORE,
    ),
)


def tick(at: dt.datetime | None = None) -> dict[str, int]:
    """One tick of both complaint clocks at ``at`` (default now): the warning before each deadline and the
    notice at breach, to the owner and the institution's 医务科 and 授权专员 (admins if neither), each once.
    Idempotent; a fixed number of queries whatever the number of complaints."""
    at = at or timezone.now()
    counts: dict[str, int] = {}
    with transaction.atomic():
        for name, due_f, done_f, warned_f, breached_f, warn in CLOCKS:
            rows = list(
                Complaint.objects.filter(
                    status__in=OPEN_STATUSES,
                    **{f"{done_f}__isnull": True, f"{breached_f}__isnull": True, f"{due_f}__lte": at + warn},
                )
                .select_related("institution")
                .select_for_update(of=("self",), skip_locked=True)
                .order_by(due_f, "pk")
            )
            warned = [c for c in rows if at < getattr(c, due_f) and getattr(c, warned_f) is None]
            breached = [c for c in rows if at >= getattr(c, due_f)]
            counts[f"complaints_{name}_warned"] = len(warned)
            counts[f"complaints_{name}_breached"] = len(breached)
            if not warned and not breached:
                continue
            roles = _roles_by_org({c.institution.organization_id for c in warned + breached})
            messages = [
                Message(
                    tuple(
                        sorted(
                            {u for u in [c.owner_id, *_officers(roles, c.institution.organization_id)] if u}
                        )
                    ),
                    kind=NotificationKind.COMPLAINT,
                    message=f"complaints.{name}_{kind}",
                    params=_params(c, getattr(c, due_f)),
                    url=f"/complaints/{c.pk}/",
                    dedupe_key=f"complaints:{c.pk}:{name}:{kind}",
                )
                for kind, group in (("warn", warned), ("breach", breached))
                for c in group
            ]
            send_many(messages)
            now = timezone.now()
            for c in warned:
                setattr(c, warned_f, at)
                c.updated_at = now
            for c in breached:
                setattr(c, breached_f, at)
                if getattr(c, warned_f) is None:
                    setattr(c, warned_f, at)
                c.updated_at = now
            Complaint.objects.bulk_update(warned + breached, [warned_f, breached_f, "updated_at"])
            by_inst: dict[int, list[Complaint]] = defaultdict(list)
            for c in breached:
                by_inst[c.institution_id].append(c)
            system = Actor.system("scheduler")
            for group in by_inst.values():
                audit.record(
                    system,
                    "complaints.complaint.breached",
                    group[0].institution,
                    changes={"clock": name, "complaints": [c.tracking_no for c in group]},
                )
    return counts


__all__ = [
    "acknowledge",
    "add_note",
    "close",
    "escalate",
    "handover",
    "investigate",
    "receive",
    "receive_public",
    "resolve_complaint",
    "tick",
    "withdraw",
]
