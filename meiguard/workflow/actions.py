"""Every state change of the workflow app: drafts, evidence, submission, votes, withdrawal, committees.

Each action is atomic, takes the actor first, locks the application row (``select_for_update``; on SQLite
the IMMEDIATE transaction serialises writers), re-reads what it decides on under that lock, writes one
audit entry per change and sends notifications only after commit (``notify.services.send``). The final
approval creates and activates the authorization through ``authz.actions.create_authorization`` in the
same transaction, so the application and its authorization commit or roll back together; the decision
engine's cache is bumped on commit by ``authz/signals.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.authz import actions as authz_actions
from meiguard.authz.choices import AuthorizationKind, TechnologyKind
from meiguard.authz.models import AUTHORIZATION_WRITERS, Authorization
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import Role
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.notify import messages as notify_text
from meiguard.notify import services as notify
from meiguard.notify.models import NotificationKind
from meiguard.registry.models import Institution, Practitioner, Qualification
from meiguard.registry.validators import validate_evidence_file
from meiguard.rules.choices import Subject
from meiguard.rules.services import ResolvedPack, resolve

from . import preview, queries
from .choices import (
    APPLY_ROLES,
    COMMITTEE_WRITERS,
    EDITABLE_STATUSES,
    ON_BEHALF_ROLES,
    STAGE_ROLES,
    ApplicationStatus,
    EvidenceKind,
    RiskLevel,
    Stage,
    StepStatus,
    Verdict,
)
from .models import Application, ApprovalStep, ApprovalVote, Evidence, ExpertCommittee
from .policy import assess_risk, tally

S = ApplicationStatus

SCOPE_FIELDS = (
    "kind",
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
    "justification",
)
EDITABLE_FIELDS = frozenset({*SCOPE_FIELDS, "practitioner_id"})
TEXT_LIMITS = {"scope_note": 2000, "justification": 4000, "note": 2000, "comment": 2000, "reason": 2000}
# Authorization.clean() names FK fields without the _id suffix; the workflow's inputs use it.
_FIELD_NAMES = {
    "practitioner": "practitioner_id",
    "grantee_institution": "practitioner_id",
    "supervisor": "supervisor_id",
}


# ---- helpers -----------------------------------------------------------------------------------


def _need_user(actor: Actor) -> int:
    if actor.user_id is None:
        raise ActionError("USER_REQUIRED", _("此操作须由具体用户执行"), status=403)
    return actor.user_id


def _institution_for_apply(actor: Actor, institution_id: int) -> Institution:
    inst = Institution.objects.visible_to(actor).filter(pk=institution_id).first()
    if inst is None:
        raise NotFoundField("institution_id")
    if not actor.can_write_org(inst.organization_id, APPLY_ROLES):
        raise ActionError("FORBIDDEN", _("您不能在该机构提交授权申请"), field="institution_id", status=403)
    return inst


def _registered(person: Practitioner, institution_id: int) -> bool:
    return (
        person.main_institution_id == institution_id
        or person.sites.filter(institution_id=institution_id).exists()
    )


def _practitioner_for_apply(
    actor: Actor, inst: Institution, practitioner_id: int | None
) -> tuple[Practitioner | None, bool]:
    """The practitioner applied for, and whether the actor applies on their behalf (not for themselves)."""
    on_behalf_ok = actor.can_write_org(inst.organization_id, ON_BEHALF_ROLES)
    if practitioner_id is None:
        if not on_behalf_ok:
            raise ActionError(
                "ONLY_SELF", _("医生和护士只能为本人申请授权"), field="practitioner_id", status=403
            )
        return None, True
    person = Practitioner.objects.visible_to(actor).filter(pk=practitioner_id).first()
    if person is None:
        raise NotFoundField("practitioner_id")
    own = person.user_id is not None and person.user_id == actor.user_id
    if not own and not on_behalf_ok:
        raise ActionError("ONLY_SELF", _("医生和护士只能为本人申请授权"), field="practitioner_id", status=403)
    if not _registered(person, inst.pk):
        raise FieldErrors({"practitioner_id": [_("该人员未在本机构注册执业(含多点执业)")]})
    return person, not own


def _clean_text(data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    for name, limit in TEXT_LIMITS.items():
        if name in data and isinstance(data[name], str):
            data[name] = data[name].strip()
            if len(data[name]) > limit:
                errors[name] = [_("长度不能超过 %(n)s") % {"n": limit}]
    for name in (
        "grantor",
        "procedure_code",
        "procedure_category",
        "subject",
        "product_brand",
        "device_model",
        "technology_name",
        "technology_kind",
    ):
        if isinstance(data.get(name), str):
            data[name] = data[name].strip()
    if errors:
        raise FieldErrors(errors)


def _probe(app: Application) -> Authorization:
    """The authorization the application asks for, unsaved: its own ``clean`` validates the scope."""
    grantee = (
        app.institution_id
        if app.kind == AuthorizationKind.TECHNOLOGY and app.practitioner_id is None
        else None
    )
    return Authorization(
        kind=app.kind,
        institution_id=app.institution_id,
        practitioner_id=app.practitioner_id,
        grantee_institution_id=grantee,
        grantor=app.grantor or "-",
        procedure_code=app.procedure_code,
        procedure_category=app.procedure_category,
        subject=app.subject,
        product_brand=app.product_brand,
        device_model=app.device_model,
        technology_name=app.technology_name,
        technology_kind=app.technology_kind,
        scope_note=app.scope_note,
        valid_from=app.valid_from,
        valid_until=app.valid_until,
        max_grade=app.max_grade,
        supervisor_id=app.supervisor_id,
    )


def _validate(actor: Actor, app: Application) -> ResolvedPack:
    """Full server-side validation of the requested scope; returns the rule pack it was judged against."""
    errors: dict[str, list[str]] = {}
    probe = _probe(app)
    try:
        probe.clean_fields(
            exclude=[
                "institution",
                "practitioner",
                "grantee_institution",
                "supervisor",
                "renews",
                "granted_by",
                "agreement",
                "status",
            ]
        )
        probe.clean()
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(_FIELD_NAMES.get(key, key), []).extend(str(m) for m in messages)
    if app.kind == AuthorizationKind.TECHNOLOGY and not app.technology_kind:
        errors.setdefault("technology_kind", [_("须说明是新技术研发还是成熟技术转让")])
    if app.technology_kind and app.technology_kind not in TechnologyKind.values:
        errors.setdefault("technology_kind", [_("取值无效")])
    if app.subject and app.subject not in Subject.values:
        errors.setdefault("subject", [_("专业取值无效")])
    if app.supervisor_id is not None:
        sup = Practitioner.objects.visible_to(actor).filter(pk=app.supervisor_id).first()
        if sup is None:
            raise NotFoundField("supervisor_id")
        if sup.pk == app.practitioner_id:
            errors.setdefault("supervisor_id", [_("指导医师不能是申请人本人")])
    if errors:
        raise FieldErrors(errors)
    pack = resolve(app.institution.province, queries.evaluation_date(app), app.institution_id)
    if app.kind == AuthorizationKind.QUALIFICATION:
        if app.procedure_code and app.procedure_code not in pack.procedures:
            errors["procedure_code"] = [_("规则包中没有项目编码 %(code)s") % {"code": app.procedure_code}]
        elif app.procedure_category and not any(
            p.category == app.procedure_category for p in pack.procedures.values()
        ):
            errors["procedure_category"] = [_("规则包中没有项目类别“%(c)s”") % {"c": app.procedure_category}]
        elif not queries.covered_procedures(
            pack,
            procedure_code=app.procedure_code,
            procedure_category=app.procedure_category,
            subject=app.subject,
            max_grade=app.max_grade,
        ):
            errors["max_grade"] = [_("申请范围内没有可开展的项目(请检查类别、专业与最高手术级别)")]
    if errors:
        raise FieldErrors(errors)
    return pack


def _assess(app: Application, pack: ResolvedPack) -> None:
    risk = assess_risk(queries.scope_facts(app, pack))
    app.risk_level = risk.level
    app.risk_reasons = [r.as_dict() for r in risk.reasons]


def _locked(actor: Actor, pk: int) -> Application:
    """The application, row-locked for the rest of the transaction (visible → else 404)."""
    app = Application.objects.visible_to(actor).select_for_update(of=("self",)).filter(pk=pk).first()
    if app is None:
        raise NotFoundField("id")
    return app


def _state_error(app: Application) -> ActionError:
    return ActionError(
        "INVALID_STATE",
        _("申请当前状态为“%(status)s”,不能执行此操作") % {"status": app.get_status_display()},
        field="status",
        status=409,
    )


def _editable_by_applicant(actor: Actor, pk: int) -> Application:
    app = _locked(actor, pk)
    if app.applicant_id != actor.user_id:
        raise ActionError("NOT_APPLICANT", _("只有申请人本人可以修改、补充或提交该申请"), status=403)
    if app.status not in EDITABLE_STATUSES:
        raise _state_error(app)
    return app


def _app_url(app: Application) -> str:
    return reverse("workflow:detail", args=[app.pk])


def _who(app: Application) -> str:
    if app.practitioner_id is not None and app.practitioner is not None:
        return app.practitioner.name
    return app.institution.name


def _scope(app: Application) -> Any:
    """What the application is for, as a notification parameter (a procedure or subject is named)."""
    if app.procedure_code:
        return notify_text.procedure(app.procedure_code)
    if not app.procedure_category and app.subject:
        return notify_text.label(Subject(app.subject).label)
    return app.scope_label()


def _step_params(app: Application, step: ApprovalStep) -> dict[str, Any]:
    return {
        "who": _who(app),
        "kind": notify_text.label(AuthorizationKind(app.kind).label),
        "pk": app.pk,
        "stage": notify_text.label(Stage(step.stage).label),
    }


def _notify_step(app: Application, step: ApprovalStep) -> None:
    ids = queries.approver_ids(app, step.stage, step.committee)
    risk = notify_text.label(RiskLevel(app.risk_level).label) if app.risk_level else "—"
    notify.send(
        ids,
        kind=NotificationKind.APPROVAL,
        message="workflow.step_open",
        params={**_step_params(app, step), "scope": _scope(app), "risk": risk},
        url=reverse("workflow:act", args=[app.pk]),
        dedupe_key=f"workflow:step:{step.pk}:open",
    )


def _notify_applicant(app: Application, comment: str = "") -> None:
    recipients: set[int] = {app.applicant_id}
    if app.practitioner_id is not None and app.practitioner is not None and app.practitioner.user_id:
        recipients.add(app.practitioner.user_id)

    params: dict[str, Any] = {
        "pk": app.pk,
        "status": notify_text.label(S(app.status).label),
        "who": _who(app),
        "scope": _scope(app),
    }
    if app.status == S.APPROVED and app.authorization_id:
        message, params["auth"] = "workflow.application_approved", app.authorization_id
    else:
        message, params["comment"] = "workflow.application_updated", comment or "—"
    notify.send(
        sorted(recipients),
        kind=NotificationKind.APPLICATION,
        message=message,
        params=params,
        url=_app_url(app),
        dedupe_key=f"workflow:app:{app.pk}:r{app.round}:{app.status}",
    )


def _open(app: Application, step: ApprovalStep, now: dt.datetime) -> None:
    if (
        ApprovalStep.objects.filter(pk=step.pk, status=StepStatus.WAITING).update(
            status=StepStatus.OPEN, opened_at=now
        )
        != 1
    ):
        raise ActionError("ALREADY_DECIDED", _("该申请已被他人处理,请刷新后重试"), status=409)
    step.status, step.opened_at = StepStatus.OPEN, now
    _notify_step(app, step)


def _cancel_pending(app: Application, now: dt.datetime) -> None:
    ApprovalStep.objects.filter(
        application_id=app.pk, status__in=[StepStatus.WAITING, StepStatus.OPEN]
    ).update(status=StepStatus.CANCELLED, decided_at=now)


# ---- drafts ------------------------------------------------------------------------------------


@transaction.atomic
def create_application(actor: Actor, *, institution_id: int, data: dict[str, Any]) -> Application:
    """A draft application filed by the actor, for themselves or (managing roles) on someone's behalf."""
    uid = _need_user(actor)
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise FieldErrors({f: [_("不允许的字段")] for f in sorted(unknown)})
    data = dict(data)
    _clean_text(data)
    inst = _institution_for_apply(actor, institution_id)
    person, on_behalf = _practitioner_for_apply(actor, inst, data.pop("practitioner_id", None))
    app = Application(
        institution=inst, practitioner=person, applicant_id=uid, on_behalf=on_behalf, status=S.DRAFT, **data
    )
    pack = _validate(actor, app)
    _assess(app, pack)
    app.save()
    audit.record(actor, "workflow.application.created", app, before={})
    return app


@transaction.atomic
def update_application(actor: Actor, pk: int, *, data: dict[str, Any]) -> Application:
    """Change a draft (or a returned application) before (re)submitting it. Unchanged → no write, no audit."""
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise FieldErrors({f: [_("不允许的字段")] for f in sorted(unknown)})
    data = dict(data)
    _clean_text(data)
    app = _editable_by_applicant(actor, pk)
    before = audit.snapshot(app)
    if "practitioner_id" in data:
        person, on_behalf = _practitioner_for_apply(actor, app.institution, data.pop("practitioner_id"))
        app.practitioner, app.on_behalf = person, on_behalf
    for name, value in data.items():
        setattr(app, name, value)
    pack = _validate(actor, app)
    _assess(app, pack)
    if audit.snapshot(app) == before:
        return app
    app.save()
    audit.record(actor, "workflow.application.updated", app, before=before)
    return app


# ---- evidence ----------------------------------------------------------------------------------


@transaction.atomic
def add_evidence(
    actor: Actor,
    application_id: int,
    *,
    kind: str,
    file: UploadedFile | None = None,
    note: str = "",
    qualification_id: int | None = None,
) -> Evidence:
    """Attach a file and/or one of the practitioner's registry qualifications."""
    uid = _need_user(actor)
    app = _editable_by_applicant(actor, application_id)
    errors: dict[str, list[str]] = {}
    if kind not in EvidenceKind.values:
        errors["kind"] = [_("材料类型无效")]
    note = (note or "").strip()
    if len(note) > TEXT_LIMITS["note"]:
        errors["note"] = [_("长度不能超过 %(n)s") % {"n": TEXT_LIMITS["note"]}]
    if file is None and qualification_id is None:
        errors["file"] = [_("请上传文件或关联一项资质")]
    if file is not None:
        try:
            validate_evidence_file(file)
        except ValidationError as exc:
            errors["file"] = [str(m) for m in exc.messages]
    qualification = None
    if qualification_id is not None:
        qualification = Qualification.objects.visible_to(actor).filter(pk=qualification_id).first()
        if qualification is None:
            raise NotFoundField("qualification_id")
        if qualification.practitioner_id != app.practitioner_id:
            errors["qualification_id"] = [_("该资质不属于申请授权的人员")]
    if errors:
        raise FieldErrors(errors)
    item = Evidence(
        application=app,
        kind=kind,
        note=note,
        qualification=qualification,
        uploaded_by_id=uid,
        original_name=(getattr(file, "name", "") or "")[:200],
    )
    if file is not None:
        item.file = file  # type: ignore[assignment]
    item.save()
    audit.record(actor, "workflow.evidence.added", item, before={})
    return item


@transaction.atomic
def remove_evidence(actor: Actor, application_id: int, evidence_id: int) -> Evidence:
    """Take evidence off a draft. The row and file stay for the record; it no longer counts."""
    app = _editable_by_applicant(actor, application_id)
    item = Evidence.objects.filter(pk=evidence_id, application_id=app.pk, removed_at__isnull=True).first()
    if item is None:
        raise NotFoundField("evidence_id")
    before = audit.snapshot(item)
    item.removed_at = timezone.now()
    item.save(update_fields=["removed_at"])
    audit.record(actor, "workflow.evidence.deleted", item, before=before)
    return item


# ---- submission --------------------------------------------------------------------------------


@transaction.atomic
def submit(actor: Actor, pk: int) -> Application:
    """Submit a draft, or resubmit a returned application: a new round of steps on the route its risk
    level asks for. Gaps in the preview do not stop it (they are recorded); an impossible route does, and so
    does a qualification scope the institution cannot offer (it could never take effect)."""
    app = _editable_by_applicant(actor, pk)
    today = timezone.localdate()
    if app.valid_until is not None and app.valid_until < today:
        raise FieldErrors({"valid_until": [_("申请的截止日期已过,请修改后再提交")]})
    pack = _validate(actor, app)
    if app.practitioner_id is not None:
        _practitioner_for_apply(
            actor, app.institution, app.practitioner_id
        )  # still registered, still allowed
    beyond = preview.beyond_institution(app, queries.evaluation_date(app, today))
    if beyond is not None:
        raise beyond
    before = audit.snapshot(app)
    _assess(app, pack)
    steps, problems = preview.plan_route(app, app.risk_level)
    if problems:
        raise ActionError(problems[0].code, problems[0].message, status=409)
    shown = preview.build(actor, app, today=today)
    now = timezone.now()
    _cancel_pending(app, now)
    app.round += 1
    app.status = S.IN_REVIEW
    app.status_reason = ""
    app.submitted_at = now
    app.decided_at = None
    app.gaps_at_submission = [g.code for g in shown.blocking]
    app.save()
    created = [
        ApprovalStep.objects.create(
            application=app,
            round=app.round,
            order=i,
            stage=spec.stage,
            required_approvals=spec.required,
            pool_size=spec.pool,
            committee=spec.committee,
        )
        for i, spec in enumerate(steps, start=1)
    ]
    audit.record(
        actor,
        "workflow.application.submitted",
        app,
        before=before,
        reason=_("第 %(n)s 轮") % {"n": app.round},
    )
    _open(app, created[0], now)
    return app


# ---- approval ----------------------------------------------------------------------------------


def _may_vote(actor: Actor, app: Application, step: ApprovalStep) -> None:
    uid = _need_user(actor)
    if uid in queries.excluded_users(app):
        raise ActionError("SELF_APPROVAL", _("不能审批本人提交的或以本人为授权对象的申请"), status=403)
    if step.stage == Stage.EXPERT_COMMITTEE:
        seated = step.committee_id is not None and (
            queries.MEMBERS.objects.filter(expertcommittee_id=step.committee_id, user_id=uid).exists()
        )
        if not seated:
            raise ActionError("NOT_AN_APPROVER", _("您不是专家委员会委员,不能对该环节投票"), status=403)
    else:
        role = STAGE_ROLES[Stage(step.stage)]
        if app.institution.organization_id not in actor.org_ids_with_roles([role]):
            raise ActionError(
                "NOT_AN_APPROVER",
                _("只有本机构的%(role)s可以处理该环节") % {"role": Role(role).label},
                status=403,
            )
    if ApprovalVote.objects.filter(step_id=step.pk, user_id=uid).exists():
        raise ActionError("ALREADY_VOTED", _("您已对该环节发表过意见"), status=409)


def _granting_actor(actor: Actor, app: Application) -> Actor:
    """The final approver grants on the institution's authority: an approver outside the archive's writer
    roles (a committee member who is a doctor) is given that right for this one grant, so the authorization
    records the real approver (``granted_by`` and its audit entries)."""
    org = app.institution.organization_id
    if actor.can_write_org(org, AUTHORIZATION_WRITERS):
        return actor
    return actor.acting_as(org, {Role.MEDICAL_DIRECTOR})


def _grant(actor: Actor, app: Application, now: dt.datetime) -> None:
    if app.valid_until is not None and app.valid_until < timezone.localdate():
        raise ActionError("TERM_ENDED", _("申请的截止日期已过,无法批准;请退回申请人修改"), status=409)
    technology_for_institution = app.kind == AuthorizationKind.TECHNOLOGY and app.practitioner_id is None
    data = {
        "kind": app.kind,
        "practitioner_id": app.practitioner_id,
        "grantee_institution_id": app.institution_id if technology_for_institution else None,
        "grantor": app.grantor or app.institution.name,
        "procedure_code": app.procedure_code,
        "procedure_category": app.procedure_category,
        "subject": app.subject,
        "product_brand": app.product_brand,
        "device_model": app.device_model,
        "technology_name": app.technology_name,
        "technology_kind": app.technology_kind,
        "scope_note": app.scope_note,
        "valid_from": app.valid_from,
        "valid_until": app.valid_until,
        "max_grade": app.max_grade,
        "supervisor_id": app.supervisor_id,
    }
    auth = authz_actions.create_authorization(
        _granting_actor(actor, app), institution_id=app.institution_id, data=data, activate=True
    )
    before = audit.snapshot(app)
    done = Application.objects.filter(pk=app.pk, status=S.IN_REVIEW, authorization__isnull=True).update(
        status=S.APPROVED, authorization=auth, decided_at=now, updated_at=now
    )
    if done != 1:
        raise ActionError("ALREADY_DECIDED", _("该申请已被他人处理,请刷新后重试"), status=409)
    app.refresh_from_db()
    audit.record(
        actor, "workflow.application.approved", app, before=before, reason=_("授权 #%(pk)s") % {"pk": auth.pk}
    )
    _notify_applicant(app)


def _close(actor: Actor, app: Application, status: str, code: str, comment: str, now: dt.datetime) -> None:
    before = audit.snapshot(app)
    done = Application.objects.filter(pk=app.pk, status=S.IN_REVIEW).update(
        status=status, status_reason=comment, decided_at=now if status == S.REJECTED else None, updated_at=now
    )
    if done != 1:
        raise ActionError("ALREADY_DECIDED", _("该申请已被他人处理,请刷新后重试"), status=409)
    _cancel_pending(app, now)
    app.refresh_from_db()
    audit.record(actor, code, app, before=before, reason=comment)
    _notify_applicant(app, comment)


@transaction.atomic
def act(actor: Actor, step_id: int, *, verdict: str, comment: str = "") -> Application:
    """One approver's verdict on an open step: approve advances (or, on the last step, grants), reject ends
    the application, return sends it back to the applicant. Race-safe: the application row is locked and
    the step is re-read under the lock, so of two approvers acting at once only one can decide a step."""
    comment = (comment or "").strip()
    errors: dict[str, list[str]] = {}
    if verdict not in Verdict.values:
        errors["verdict"] = [_("意见取值无效,可选:approve / reject / return")]
    if verdict in (Verdict.REJECT, Verdict.RETURN) and not comment:
        errors["comment"] = [_("驳回或退回时须填写意见")]
    if len(comment) > TEXT_LIMITS["comment"]:
        errors["comment"] = [_("长度不能超过 %(n)s") % {"n": TEXT_LIMITS["comment"]}]
    if errors:
        raise FieldErrors(errors)
    app_id = (
        ApprovalStep.objects.visible_to(actor)
        .filter(pk=step_id)
        .values_list("application_id", flat=True)
        .first()
    )
    if app_id is None:
        raise NotFoundField("step_id")
    app = _locked(actor, app_id)
    step = ApprovalStep.objects.select_for_update().get(pk=step_id)
    if app.status != S.IN_REVIEW or step.status != StepStatus.OPEN or step.round != app.round:
        raise ActionError(
            "STEP_NOT_OPEN",
            _("该审批环节当前为“%(status)s”,不能再处理(可能已被他人处理)")
            % {"status": step.get_status_display()},
            field="step_id",
            status=409,
        )
    _may_vote(actor, app, step)
    uid = _need_user(actor)
    try:
        with transaction.atomic():
            ApprovalVote.objects.create(step=step, user_id=uid, verdict=verdict, comment=comment)
    except IntegrityError:
        raise ActionError("ALREADY_VOTED", _("您已对该环节发表过意见"), status=409) from None
    audit.record(
        actor,
        "workflow.approvalstep.voted",
        step,
        changes={"verdict": [None, verdict], "comment": [None, comment]},
        reason=comment,
    )
    counts = step.votes.aggregate(
        approvals=Count("pk", filter=Q(verdict=Verdict.APPROVE)),
        rejects=Count("pk", filter=Q(verdict=Verdict.REJECT)),
        returns=Count("pk", filter=Q(verdict=Verdict.RETURN)),
    )
    outcome = tally(stage=step.stage, required=step.required_approvals, pool=step.pool_size, **counts)
    if outcome is None:
        return app
    now = timezone.now()
    if (
        ApprovalStep.objects.filter(pk=step.pk, status=StepStatus.OPEN).update(status=outcome, decided_at=now)
        != 1
    ):
        raise ActionError("ALREADY_DECIDED", _("该申请已被他人处理,请刷新后重试"), status=409)
    if outcome == StepStatus.APPROVED:
        following = (
            ApprovalStep.objects.filter(application_id=app.pk, round=app.round, order__gt=step.order)
            .select_related("committee")
            .order_by("order")
            .first()
        )
        if following is None:
            _grant(actor, app, now)
        else:
            audit.record(
                actor,
                "workflow.application.advanced",
                app,
                changes={"stage": [step.stage, following.stage]},
            )
            _open(app, following, now)
    elif outcome == StepStatus.REJECTED:
        _close(actor, app, S.REJECTED, "workflow.application.rejected", comment, now)
    else:
        _close(actor, app, S.RETURNED, "workflow.application.returned", comment, now)
    return app


@transaction.atomic
def withdraw(actor: Actor, pk: int, *, reason: str = "") -> Application:
    """The applicant (or the institution's admin / 授权专员) withdraws an application not yet decided."""
    _need_user(actor)
    reason = (reason or "").strip()
    app = _locked(actor, pk)
    own = app.applicant_id == actor.user_id
    if not own and not actor.can_write_org(app.institution.organization_id, COMMITTEE_WRITERS):
        raise ActionError("FORBIDDEN", _("只有申请人或机构管理员、授权专员可以撤回该申请"), status=403)
    if app.status not in (S.DRAFT, S.RETURNED, S.IN_REVIEW):
        raise _state_error(app)
    if not own and not reason:
        raise FieldErrors({"reason": [_("撤回他人的申请须填写原因")]})
    if len(reason) > TEXT_LIMITS["reason"]:
        raise FieldErrors({"reason": [_("长度不能超过 %(n)s") % {"n": TEXT_LIMITS["reason"]}]})
    before = audit.snapshot(app)
    now = timezone.now()
    _cancel_pending(app, now)
    app.status = S.WITHDRAWN
    app.status_reason = reason
    app.decided_at = now
    app.save(update_fields=["status", "status_reason", "decided_at", "updated_at"])
    audit.record(actor, "workflow.application.withdrawn", app, before=before, reason=reason)
    return app


# ---- committees --------------------------------------------------------------------------------


@transaction.atomic
def save_committee(
    actor: Actor,
    *,
    institution_id: int,
    name: str,
    quorum: int,
    member_ids: Iterable[int],
    is_active: bool = True,
) -> ExpertCommittee:
    """Create or change the institution's expert committee (institution admins and 授权专员)."""
    inst = Institution.objects.visible_to(actor).filter(pk=institution_id).first()
    if inst is None:
        raise NotFoundField("institution_id")
    if not actor.can_write_org(inst.organization_id, COMMITTEE_WRITERS):
        raise ActionError(
            "FORBIDDEN", _("只有机构管理员或授权专员可以设置专家委员会"), field="institution_id", status=403
        )
    wanted = sorted(set(member_ids))
    valid = set(queries.member_candidates(inst).filter(pk__in=wanted).values_list("pk", flat=True))
    errors: dict[str, list[str]] = {}
    outsiders = [pk for pk in wanted if pk not in valid]
    if outsiders:
        errors["member_ids"] = [
            _("以下用户不是本机构的在职成员:%(ids)s") % {"ids": ", ".join(str(pk) for pk in outsiders)}
        ]
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("请填写委员会名称")]
    elif len(name) > 128:
        errors["name"] = [_("长度不能超过 %(n)s") % {"n": 128}]
    if quorum < 1 or (wanted and quorum > len(wanted)):
        errors["quorum"] = [_("通过所需票数应在 1 到委员人数(%(m)s)之间") % {"m": len(wanted)}]
    if is_active and not wanted:
        errors.setdefault("member_ids", []).append(_("启用的委员会至少需要一名委员"))
    if errors:
        raise FieldErrors(errors)
    committee = ExpertCommittee.objects.select_for_update().filter(institution_id=inst.pk).first()
    if committee is None:
        committee = ExpertCommittee.objects.create(
            institution=inst, name=name, quorum=quorum, is_active=is_active
        )
        committee.members.set(wanted)
        audit.record(actor, "workflow.committee.created", committee, before={})
        return committee
    before = audit.snapshot(committee)
    unchanged = (committee.name, committee.quorum, committee.is_active) == (name, quorum, is_active)
    if unchanged and before.get("members") == wanted:
        return committee
    committee.name, committee.quorum, committee.is_active = name, quorum, is_active
    committee.save()
    committee.members.set(wanted)
    audit.record(actor, "workflow.committee.updated", committee, before=before)
    return committee


# ---- steps left waiting ----------------------------------------------------------------------------

# An open step is chased after this many days; from the second threshold the institution's admins and
# compliance officers are told too (the approvers may be away). Institution practice, not national law.
WAITING_THRESHOLDS: tuple[int, ...] = (3, 7, 14)
ESCALATE_FROM = 7


def remind_waiting_steps(on: dt.date) -> int:
    """Chase approvers of steps open for 3 / 7 / 14 days; each (step, threshold) is sent once (dedupe key),
    and after missed days only the largest threshold reached is sent. Returns notifications created."""
    created = 0
    steps = (
        ApprovalStep.objects.filter(status=StepStatus.OPEN, opened_at__isnull=False)
        .select_related("application__institution", "application__practitioner", "committee")
        .order_by("pk")
    )
    for step in steps:
        waited = (on - timezone.localdate(step.opened_at)).days  # type: ignore[arg-type]
        reached = [t for t in WAITING_THRESHOLDS if waited >= t]
        if not reached:
            continue
        threshold = reached[-1]
        app = step.application
        voted = set(step.votes.values_list("user_id", flat=True))
        ids = [i for i in queries.approver_ids(app, step.stage, step.committee) if i not in voted]
        if threshold >= ESCALATE_FROM:
            ids += notify.users_with_roles(
                app.institution.organization_id, [Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER]
            )
        ids = sorted(set(ids) - queries.excluded_users(app))

        with transaction.atomic():
            created += len(
                notify.send(
                    ids,
                    kind=NotificationKind.APPROVAL,
                    message="workflow.step_waiting",
                    params={**_step_params(app, step), "days": waited},
                    url=reverse("workflow:act", args=[app.pk]),
                    dedupe_key=f"workflow:step:{step.pk}:waiting:{threshold}",
                )
            )
    return created
