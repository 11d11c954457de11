"""Every state change of the authz app: the authorization lifecycle, and checks written to the decision log."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.core import context
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField, not_found_message
from meiguard.core.choices import Role
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.lib.fixedsql import FixedInsert
from meiguard.registry.models import Institution, Lot, Practitioner
from meiguard.registry.validators import parse_udi
from meiguard.rules.services import current_generation, resolve

from . import snapshot as snapshots
from .choices import AuthorizationKind, AuthorizationStatus, DecisionChannel
from .codec import decode, encode
from .facts import (
    CHINA_TZ,
    DecisionRequest,
    InstitutionFacts,
    PackFacts,
    PractitionerFacts,
    ProcedureFacts,
    Snapshot,
)
from .models import AUTHORIZATION_WRITERS, Authorization, DecisionLog, DecisionSnapshot, DecisionSnapshotPack
from .policy import Decision, Reason, check_subject_and_grade, decide
from .reasons import reason_dict, reason_message

S = AuthorizationStatus

EDITABLE_FIELDS = (
    "kind",
    "practitioner_id",
    "grantee_institution_id",
    "grantor",
    "procedure_code",
    "procedure_category",
    "subject",
    "product_brand",
    "device_model",
    "technology_name",
    "technology_kind",
    "scope_note",
    "valid_from",
    "valid_until",
    "max_grade",
    "supervisor_id",
    "conditions_note",
)


# ---- authorization archive -------------------------------------------------------------------


def _writable_institution(actor: Actor, institution_id: int) -> Institution:
    inst = Institution.objects.visible_to(actor).filter(pk=institution_id).first()
    if inst is None:
        raise NotFoundField("institution_id")
    if not actor.can_write_org(inst.organization_id, AUTHORIZATION_WRITERS):
        raise ActionError("FORBIDDEN", _("您没有为该机构管理授权的权限"), field="institution_id", status=403)
    return inst


def _visible_practitioner(actor: Actor, pk: int | None, field: str) -> Practitioner | None:
    if pk is None:
        return None
    person = Practitioner.objects.visible_to(actor).filter(pk=pk).first()
    if person is None:
        raise NotFoundField(field)
    return person


def authorization_for_update(actor: Actor, pk: int) -> Authorization:
    auth = (
        Authorization.objects.writable_by(actor)
        .select_for_update()
        .select_related("institution")
        .filter(pk=pk)
        .first()
    )
    if auth is None:
        raise NotFoundField("id")
    return auth


def _validate(auth: Authorization, on: dt.date) -> None:
    try:
        auth.full_clean(
            exclude=[
                "institution",
                "practitioner",
                "grantee_institution",
                "supervisor",
                "renews",
                "granted_by",
            ]
        )
    except ValidationError as exc:
        raise FieldErrors({k: [str(m) for m in v] for k, v in exc.message_dict.items()}) from None
    errors: dict[str, list[str]] = {}
    if auth.procedure_code:
        pack = resolve(auth.institution.province, max(on, auth.valid_from), auth.institution_id)
        if auth.procedure_code not in pack.procedures:
            errors["procedure_code"] = [_("规则包中没有项目编码 %(code)s") % {"code": auth.procedure_code}]
    if auth.practitioner_id is not None:
        person = auth.practitioner
        assert person is not None
        registered = (
            person.main_institution_id == auth.institution_id
            or person.sites.filter(institution_id=auth.institution_id).exists()
        )
        if not registered:
            errors["practitioner_id"] = [_("该人员未在本机构注册执业(含多点执业)")]
    if errors:
        raise FieldErrors(errors)


def overlapping(auth: Authorization) -> Authorization | None:
    """Another authorization in force for the same scope whose term overlaps this one."""
    same_people: dict[str, Any] = {
        "practitioner_id": auth.practitioner_id,
        "grantee_institution_id": auth.grantee_institution_id,
    }
    qs = Authorization.objects.filter(
        **same_people,
        kind=auth.kind,
        institution_id=auth.institution_id,
        procedure_code=auth.procedure_code,
        procedure_category=auth.procedure_category,
        subject=auth.subject,
        product_brand=auth.product_brand,
        device_model=auth.device_model,
        technology_name=auth.technology_name,
        status__in=[S.ACTIVE, S.SUSPENDED],
    ).exclude(pk=auth.pk)
    if auth.valid_until is not None:
        qs = qs.filter(valid_from__lte=auth.valid_until)
    qs = qs.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=auth.valid_from))
    return qs.order_by("pk").first()


def _refuse_overlap(auth: Authorization) -> None:
    # Serialise activations per practitioner (or institution) so two cannot both pass the check.
    if auth.practitioner_id:
        Practitioner.objects.select_for_update().filter(pk=auth.practitioner_id).first()
    else:
        Institution.objects.select_for_update().filter(pk=auth.institution_id).first()
    other = overlapping(auth)
    if other is not None:
        raise ActionError(
            "AUTHORIZATION_OVERLAP",
            _("与生效中的授权 #%(pk)s 范围相同且期限重叠") % {"pk": other.pk},
            field="valid_from",
            status=409,
        )


# ---- what the institution can offer (IN-02 subjects, IN-03 grade) ---------------------------------

# The engine's reasons that mean "this institution cannot offer it", whoever the practitioner is.
BEYOND_INSTITUTION_CODES = frozenset({"SUBJECT_NOT_REGISTERED", "PROCEDURE_GRADE_EXCEEDS_INSTITUTION"})
SHOWN_IN_MESSAGE = 3


def _offer_reasons(
    pack: PackFacts, inst: InstitutionFacts, proc: ProcedureFacts, on: dt.date
) -> list[Reason]:
    """The engine's own subject-and-grade check for one procedure at the institution (nobody in particular)."""
    nobody = PractitionerFacts(0, "", "", "active", frozenset(), 0, inst.id)
    snap = Snapshot(pack=dataclasses.replace(pack, procedure=proc), institution=inst, practitioner=nobody)
    at = dt.datetime.combine(on, dt.time(12), tzinfo=CHINA_TZ)
    req = DecisionRequest(inst.id, 0, proc.code, at)
    return [r for r in check_subject_and_grade(req, snap) if r.code in BEYOND_INSTITUTION_CODES]


def institution_scope_reasons(
    inst: Institution,
    *,
    on: dt.date,
    procedure_code: str = "",
    procedure_category: str = "",
    subject: str = "",
    max_grade: int | None = None,
) -> tuple[Reason, ...]:
    """Why the institution cannot offer a qualification scope (empty: it can), in the engine's own reasons.

    One procedure: its subject must be registered and its grade within the institution's permitted grade.
    A category or subject: refused when nothing it covers can be offered here, or when its ``max_grade``
    claims more than the permitted grade (the engine would deny those items at the point of care anyway).
    Raises ``NoActivePack`` (409) when no rule pack is in force on ``on``.
    """
    pack = resolve(inst.province, on)
    inst_facts = snapshots.institution_facts(inst)
    if procedure_code:
        if procedure_code not in pack.procedures:
            return ()
        facts = snapshots.pack_facts(pack, inst, procedure_code)
        return tuple(_offer_reasons(facts, inst_facts, facts.procedure, on))
    if procedure_category:
        covered = [
            p
            for p in pack.procedures.values()
            if p.category == procedure_category and subject in ("", p.subject)
        ]
    elif subject:
        covered = [p for p in pack.procedures.values() if p.subject == subject]
    else:
        return ()
    if max_grade is not None:
        covered = [p for p in covered if p.grade is None or p.grade <= max_grade]
    if not covered:
        return ()
    covered.sort(key=lambda p: (p.subject, p.grade or 0, p.code))
    base = snapshots.pack_facts(pack, inst, covered[0].code)
    per_procedure = [
        _offer_reasons(base, inst_facts, snapshots.pack_facts(pack, inst, p.code).procedure, on)
        for p in covered
    ]
    flat: list[Reason] = []
    seen_subjects: set[str | None] = set()
    for reasons in per_procedure:
        for r in reasons:
            if r.code == "SUBJECT_NOT_REGISTERED":
                if r.fact("subject") in seen_subjects:
                    continue  # one reason per unregistered subject is enough
                seen_subjects.add(r.fact("subject"))
            flat.append(r)
    if max_grade is not None and max_grade > base.permitted_grade:
        if not any(r.code == "PROCEDURE_GRADE_EXCEEDS_INSTITUTION" for r in flat):
            # Nothing in the pack between the permitted grade and max_grade: the scope's own claim is refused.
            scope = dataclasses.replace(base.procedure, code=procedure_category or subject, grade=max_grade)
            flat.extend(
                r
                for r in _offer_reasons(base, inst_facts, scope, on)
                if r.code == "PROCEDURE_GRADE_EXCEEDS_INSTITUTION"
            )
        return tuple(flat)
    if all(per_procedure):
        return tuple(flat)
    return ()


def authorization_scope_reasons(auth: Authorization, on: dt.date | None = None) -> tuple[Reason, ...]:
    """``institution_scope_reasons`` for a (possibly unsaved) qualification authorization; () for other kinds.
    Judged on its first day, or ``on`` (today) if that has passed: the pack the authorization is checked under."""
    if auth.kind != AuthorizationKind.QUALIFICATION:
        return ()
    on = max(on or timezone.localdate(), auth.valid_from)
    return institution_scope_reasons(
        auth.institution,
        on=on,
        procedure_code=auth.procedure_code,
        procedure_category=auth.procedure_category,
        subject=auth.subject,
        max_grade=auth.max_grade,
    )


def shown_scope_reasons(auth: Authorization) -> tuple[Reason, ...]:
    """``authorization_scope_reasons`` for display: () when it cannot be judged (no rule pack in force)."""
    try:
        return authorization_scope_reasons(auth)
    except (ActionError, NotFoundField):
        return ()


def _scope_field(reasons: tuple[Reason, ...], auth: Any) -> str:
    if auth.procedure_code:
        return "procedure_code"
    grade = any(r.code == "PROCEDURE_GRADE_EXCEEDS_INSTITUTION" for r in reasons)
    if grade and auth.max_grade is not None:
        return "max_grade"
    return "procedure_category" if auth.procedure_category else "subject"


def beyond_institution_error(reasons: tuple[Reason, ...], scope: Any) -> ActionError:
    """The refusal: every reason in ``details``, the first few in the message."""
    field = _scope_field(reasons, scope)
    shown = "; ".join(reason_message(r) for r in reasons[:SHOWN_IN_MESSAGE])
    if len(reasons) > SHOWN_IN_MESSAGE:
        shown = _("%(shown)s 等 %(n)s 项") % {"shown": shown, "n": len(reasons)}
    return ActionError(
        "AUTHORIZATION_BEYOND_INSTITUTION",
        _("机构不能开展该授权范围内的项目:%(reasons)s") % {"reasons": shown},
        field=field,
        status=409,
        details=[{"field": field, "code": r.code, "message": reason_message(r)} for r in reasons],
    )


def _refuse_beyond_institution(auth: Authorization) -> None:
    reasons = authorization_scope_reasons(auth)
    if reasons:
        raise beyond_institution_error(reasons, auth)


@transaction.atomic
def create_authorization(
    actor: Actor, *, institution_id: int, data: dict[str, Any], activate: bool = False
) -> Authorization:
    """A new authorization, a draft unless ``activate``. A qualification scope the institution cannot offer
    may be kept as a draft (``authorization_scope_reasons`` says why, shown on its page and in the API) but
    is refused when it is to take effect."""
    inst = _writable_institution(actor, institution_id)
    _visible_practitioner(actor, data.get("practitioner_id"), "practitioner_id")
    _visible_practitioner(actor, data.get("supervisor_id"), "supervisor_id")
    if (
        data.get("grantee_institution_id") is not None
        and not Institution.objects.visible_to(actor).filter(pk=data["grantee_institution_id"]).exists()
    ):
        raise NotFoundField("grantee_institution_id")
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise FieldErrors({f: [_("不允许的字段")] for f in sorted(unknown)})
    auth = Authorization(institution=inst, status=S.DRAFT, **data)
    if not auth.grantor:
        auth.grantor = inst.name
    today = timezone.localdate()
    _validate(auth, today)
    if auth.kind != AuthorizationKind.TECHNOLOGY:
        _refuse_overlap(auth)
    auth.save()
    beyond = () if activate else authorization_scope_reasons(auth)
    note = (
        (_("超出机构可开展范围:%(codes)s") % {"codes": ", ".join(r.code for r in beyond)}) if beyond else ""
    )
    audit.record(actor, "authz.authorization.created", auth, before={}, reason=note)
    if activate:
        return _transition(actor, auth, S.ACTIVE, "authz.authorization.activated", reason="")
    return auth


def _transition(actor: Actor, auth: Authorization, to: str, code: str, *, reason: str) -> Authorization:
    before = audit.snapshot(auth)
    if to == S.ACTIVE:
        _refuse_beyond_institution(auth)
        _refuse_overlap(auth)
        if actor.user_id is not None:
            auth.granted_by_id = actor.user_id
    auth.status = to
    auth.status_reason = reason
    auth.save(update_fields=["status", "status_reason", "granted_by", "updated_at"])
    audit.record(actor, code, auth, before=before, reason=reason)
    return auth


ALLOWED = {
    "activate": ({S.DRAFT}, S.ACTIVE, "authz.authorization.activated", False),
    "suspend": ({S.ACTIVE}, S.SUSPENDED, "authz.authorization.suspended", True),
    "reinstate": ({S.SUSPENDED}, S.ACTIVE, "authz.authorization.reinstated", True),
    "revoke": ({S.DRAFT, S.ACTIVE, S.SUSPENDED}, S.REVOKED, "authz.authorization.revoked", True),
}


@transaction.atomic
def change_status(actor: Actor, pk: int, *, action: str, reason: str = "") -> Authorization:
    if action not in ALLOWED:
        raise FieldErrors({"action": [_("未知操作:%(a)s") % {"a": action}]})
    sources, to, code, needs_reason = ALLOWED[action]
    auth = authorization_for_update(actor, pk)
    reason = reason.strip()
    if needs_reason and not reason:
        raise FieldErrors({"reason": [_("此操作须填写原因")]})
    if auth.status not in sources:
        raise ActionError(
            "INVALID_TRANSITION",
            _("当前状态为“%(status)s”,不能执行此操作") % {"status": auth.get_status_display()},
            field="status",
            status=409,
        )
    return _transition(actor, auth, to, code, reason=reason)


@transaction.atomic
def renew_authorization(
    actor: Actor, pk: int, *, valid_until: dt.date | None, reason: str = ""
) -> Authorization:
    """A renewal is a new draft with the same scope, starting the day after the old term ends."""
    old = authorization_for_update(actor, pk)
    if old.status not in (S.ACTIVE, S.EXPIRED):
        raise ActionError("INVALID_TRANSITION", _("只能续期生效中或已到期的授权"), field="status", status=409)
    if old.valid_until is None:
        raise ActionError("NOT_RENEWABLE", _("该授权没有截止日期,无需续期"), field="valid_until", status=409)
    start = max(
        old.valid_until + dt.timedelta(days=1),
        timezone.localdate() if old.status == S.EXPIRED else old.valid_from,
    )
    if valid_until is not None and valid_until < start:
        raise FieldErrors({"valid_until": [_("续期截止日期不能早于 %(d)s") % {"d": start.isoformat()}]})
    new = replace_authorization_fields(old, valid_from=start, valid_until=valid_until)
    new.renews = old
    new.save()
    audit.record(actor, "authz.authorization.renewed", new, before={}, reason=reason or f"renews #{old.pk}")
    return new


def replace_authorization_fields(old: Authorization, **changes: Any) -> Authorization:
    data = {f: getattr(old, f) for f in EDITABLE_FIELDS}
    data.update(changes)
    return Authorization(institution_id=old.institution_id, status=S.DRAFT, agreement=old.agreement, **data)


@transaction.atomic
def expire_due(actor: Actor, *, on: dt.date) -> list[int]:
    """Active authorizations whose term ended before ``on`` become expired (idempotent)."""
    expired: list[int] = []
    for auth in (
        Authorization.objects.select_for_update().filter(status=S.ACTIVE, valid_until__lt=on).order_by("pk")
    ):
        _transition(actor, auth, S.EXPIRED, "authz.authorization.expired", reason=_("期限届满"))
        expired.append(auth.pk)
    return expired


# ---- checks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checked:
    decision: Decision
    log: DecisionLog  # unsaved (pk None) for a simulation
    snapshot: Snapshot
    recorded: bool = True


def records_checks(actor: Actor, organization_id: int) -> bool:
    """Is a check by ``actor`` at this institution a clinical check (logged, counted by reviews)?

    Only the institution's own staff (any role there but auditor, including its HIS token's user) and system
    jobs record checks. Everyone else who may read the institution (overseeing auditors, platform admins) gets
    the same answer as a what-if simulation that writes nothing.
    """
    if actor.is_system:
        return True
    return bool(actor.roles_by_org.get(organization_id, frozenset()) - {Role.AUDITOR})


@lru_cache(maxsize=8192)
def _encoded_reason(reason: Reason) -> dict[str, Any]:
    return encode(reason)  # type: ignore[no-any-return]


def _log_row(
    actor: Actor, req: DecisionRequest, loaded: snapshots.Loaded, decision: Decision, channel: str
) -> DecisionLog:
    return DecisionLog(
        institution_id=req.institution_id,
        practitioner_id=req.practitioner_id,
        procedure_code=req.procedure_code,
        at=req.at,
        outcome=str(decision.outcome),
        reason_codes=list(decision.codes()),
        reasons=[_encoded_reason(r) for r in decision.reasons],
        request=encode(req),
        snapshot_id=loaded.digest,
        rule_pack=loaded.snapshot.pack.label,
        asked_by_id=actor.user_id,
        actor_label=actor.username,
        channel=channel,
        request_id=context.current().request_id,
    )


def _insert_ignoring_conflicts(model: Any, rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
    """One ``INSERT … ON CONFLICT DO NOTHING`` per 300 rows (SQLite ≥ 3.24 and PostgreSQL): no transaction of
    its own, and a row another process stored meanwhile is simply kept (the rows are content-addressed)."""
    connection = connections[model.objects.db]
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]
    quote = connection.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    for start in range(0, len(rows), 300):  # well under SQLite's bound-parameter limit
        chunk = rows[start : start + 300]
        params: list[Any] = []
        for values in chunk:
            params += [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]
        sql = "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO NOTHING".format(
            quote(meta.db_table),
            ", ".join(quote(f.column) for f in fields),
            ", ".join([placeholders] * len(chunk)),
            quote(fields[0].column),
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _store_snapshots(loaded: list[snapshots.Loaded]) -> None:
    """Insert the snapshots not yet stored, their rule-pack parts first (a query each, only when new)."""
    new = {x.digest: x for x in loaded if not snapshots.is_stored(x.digest)}
    if not new:
        return
    now = timezone.now()
    packs: dict[str, Any] = {}
    for x in new.values():
        if x.pack_digest not in packs and not snapshots.is_pack_stored(x.pack_digest):
            packs[x.pack_digest] = x.encoded["pack"]
    if packs:
        rows = [(digest, data, now) for digest, data in packs.items()]
        _insert_ignoring_conflicts(DecisionSnapshotPack, rows, ("digest", "data", "created_at"))
    people = [
        (digest, {k: v for k, v in x.encoded.items() if k != "pack"}, x.pack_digest, now)
        for digest, x in new.items()
    ]
    _insert_ignoring_conflicts(DecisionSnapshot, people, ("digest", "data", "pack", "created_at"))

    def remember() -> None:
        snapshots.mark_packs_stored(packs)
        snapshots.mark_stored(new)

    transaction.on_commit(remember)


# The log row of a single check, written without the per-call query building of ``save()`` (append-only,
# no signal receivers; batches use ``bulk_create``).
_LOG_INSERT = FixedInsert(
    DecisionLog, [f.name for f in DecisionLog._meta.concrete_fields if not f.primary_key]
)


def check(actor: Actor, req: DecisionRequest, *, channel: str = DecisionChannel.API) -> Checked:
    """Load the snapshot (checking access), decide, and append the decision to the log.

    No transaction of its own: the snapshot row is content-addressed and inserted first (idempotently), so the
    log row can never name a missing snapshot, and an interrupted check leaves at most an unused snapshot.
    """
    loaded = snapshots.load_for_log(actor, req)
    decision = decide(req, loaded.snapshot)
    row = _log_row(actor, req, loaded, decision, channel)
    if not records_checks(actor, loaded.organization_id):
        return Checked(decision, row, loaded.snapshot, recorded=False)  # a simulation: nothing written
    _store_snapshots([loaded])
    _LOG_INSERT.insert(row, using=DecisionLog.objects.db)
    return Checked(decision, row, loaded.snapshot)


@dataclass(frozen=True, slots=True)
class BatchItem:
    index: int
    checked: Checked | None = None
    error: NotFoundField | ActionError | None = None


def check_batch(
    actor: Actor,
    reqs: list[DecisionRequest | NotFoundField | ActionError],
    *,
    channel: str = DecisionChannel.BATCH,
) -> list[BatchItem]:
    """Each request is decided on its own; a bad item (unknown id, or an error found while parsing it, passed
    in place of its request) is reported without failing the others."""
    items: list[BatchItem] = []
    rows: list[DecisionLog] = []
    all_loaded: list[snapshots.Loaded] = []
    rules_gen = current_generation()  # once per batch: the batch is decided under the rules in force now
    for i, req in enumerate(reqs):
        if isinstance(req, NotFoundField | ActionError):
            items.append(BatchItem(i, error=req))
            continue
        try:
            loaded = snapshots.load_for_log(actor, req, rules_gen=rules_gen)
        except (NotFoundField, ActionError) as exc:
            items.append(BatchItem(i, error=exc))
            continue
        decision = decide(req, loaded.snapshot)
        row = _log_row(actor, req, loaded, decision, channel)
        if not records_checks(actor, loaded.organization_id):
            items.append(BatchItem(i, checked=Checked(decision, row, loaded.snapshot, recorded=False)))
            continue
        rows.append(row)
        all_loaded.append(loaded)
        items.append(BatchItem(i, checked=Checked(decision, row, loaded.snapshot)))
    with transaction.atomic():
        _store_snapshots(all_loaded)
        DecisionLog.objects.bulk_create(rows, batch_size=500)
    return items


@dataclass(frozen=True, slots=True)
class Replay:
    log: DecisionLog
    recorded: Decision
    replayed: Decision  # the same request against the snapshot stored with the decision
    current: Decision | None  # the same request against today's data, as of the original time
    current_error: str = ""

    @property
    def reproducible(self) -> bool:
        return self.replayed == self.recorded


def replay(actor: Actor, log_id: int) -> Replay:
    row = DecisionLog.objects.visible_to(actor).select_related("snapshot__pack").filter(pk=log_id).first()
    if row is None:
        raise NotFoundField("id")
    req = decode(DecisionRequest, row.request)
    snap = decode(Snapshot, row.snapshot.facts())
    recorded = decode(Decision, {"outcome": row.outcome, "reasons": row.reasons})
    current: Decision | None = None
    error = ""
    try:
        current = decide(req, snapshots.load(actor, req, use_cache=False))
    except (NotFoundField, ActionError) as exc:
        error = str(getattr(exc, "message", exc))
    return Replay(row, recorded, decide(req, snap), current, error)


DRUG_TRACE_CODE_RE = re.compile(r"^\d{20}$")


def lot_for_trace_code(actor: Actor, institution_id: int, code: str, *, field: str) -> int:
    """The lot a scanned code names at this institution: a GS1 UDI with (01) DI and (10) lot (DD-05).

    A 20-digit drug trace code (DD-06) names a unit, not a lot: it resolves to the lot it was received into at
    this institution (``inventory``, one indexed query). A code already used, or never received here, is
    refused (409) and raises a counterfeit/diversion alert.
    """
    code = code.strip()
    if DRUG_TRACE_CODE_RE.match(code):
        from meiguard.inventory import actions as stock
        from meiguard.inventory import queries as stock_queries
        from meiguard.inventory.choices import AlertKind, TraceCodeStatus

        lot_id, status = stock_queries.lot_for_trace_code(institution_id, code)
        if lot_id is not None and status == TraceCodeStatus.RECEIVED:
            return lot_id
        kind = AlertKind.NOT_RECEIVED if lot_id is None else AlertKind.SCANNED_AGAIN
        denied = stock.TraceCodeDenied(kind, code, institution_id, field=field)
        if Institution.objects.visible_to(actor).filter(pk=institution_id).exists():
            stock.raise_alert(actor, denied)
        raise denied
    try:
        udi = parse_udi(code)
    except ValidationError as exc:
        raise FieldErrors({field: [str(m) for m in exc.messages]}) from None
    if not udi.lot:
        raise FieldErrors({field: [_("UDI 中没有批号 (10),无法确定批次")]})
    lot_id = (
        Lot.objects.visible_to(actor)
        .filter(institution_id=institution_id, product__udi_di=udi.gtin, lot_no=udi.lot)
        .values_list("pk", flat=True)
        .first()
    )
    if lot_id is None:
        raise NotFoundField(field)
    return lot_id


def error_message(exc: Exception) -> str:
    if isinstance(exc, NotFoundField):
        return not_found_message(exc.field)
    if isinstance(exc, FieldErrors):  # as the API's envelope words it: the field, then what is wrong
        return _("输入有误:%(field)s:%(message)s") % {"field": exc.field, "message": exc.message}
    return str(getattr(exc, "message", exc))


def as_request(**fields: Any) -> DecisionRequest:
    at = fields.pop("at", None) or timezone.now()
    if timezone.is_naive(at):
        raise FieldErrors({"at": [_("时间须带时区,例如 2026-03-03T09:30:00+08:00")]})
    return DecisionRequest(at=at, **fields)


def reasons_out(decision: Decision) -> list[dict[str, Any]]:
    return [reason_dict(r) for r in decision.reasons]
